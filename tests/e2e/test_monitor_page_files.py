"""The monitor page's files through devhost, with raw request paths (no client normalising
them): served anonymously with their policy headers; walking out of the folder is refused."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from devhost.testing import Devhost

pytestmark = pytest.mark.slow


def _raw_get(host: Devhost, path: str) -> tuple[int, dict[str, str], bytes]:
    address = urlsplit(host.base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request("GET", path)  # no function key: the files are anonymous
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_the_page_is_served_without_a_key_with_its_policy(app_host: Devhost) -> None:
    status, headers, body = _raw_get(app_host, "/api/ui/")
    assert status == 200 and b'<script type="module" src="app.js">' in body
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    status, headers, _ = _raw_get(app_host, "/api/ui/views/run.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    status, headers, _ = _raw_get(app_host, "/api/ui")
    assert status == 308 and headers["location"] == "ui/"


@pytest.mark.parametrize(
    "path",
    [
        "/api/ui/../host.json",
        "/api/ui/%2e%2e/host.json",
        "/api/ui/%2E%2E%2Fhost.json",
        "/api/ui/views/..%2f..%2ffunction_app.py",
        "/api/ui/..%5chost.json",
        "/api/ui/%252e%252e/host.json",
        "/api/ui/ui_api.py",
        "/api/ui/nothing.js",
    ],
)
def test_paths_out_of_the_folder_or_unknown_are_refused(app_host: Devhost, path: str) -> None:
    status, _, body = _raw_get(app_host, path)
    assert status in {400, 404}, (path, status)
    assert b"routePrefix" not in body and b"register_functions" not in body
