"""The monitor page's static files: only what ships in `triggers/ui_static/` is served, with a
content security policy and nosniff; anything that tries to walk out of the folder is refused."""

from __future__ import annotations

import pytest

from tests.triggers.http_requests import http_request
from triggers.http import HttpResponse
from triggers.ui_api import CONTENT_SECURITY_POLICY, UI_ROOT, resolve, ui

serve = ui._function.get_user_function()


def _get(url: str, path: str | None) -> HttpResponse:
    params = {} if path is None else {"path": path}
    return serve(http_request("GET", url, body=b"", route_params=params))


def test_the_page_and_its_modules_are_served_with_their_types_and_policy() -> None:
    page = _get("http://h/api/ui/", None)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.body == (UI_ROOT / "index.html").read_bytes()
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    module = _get("http://h/api/ui/views/runs.js", "views/runs.js")
    assert module.status_code == 200
    assert module.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert _get("http://h/api/ui/app.css", "app.css").headers["Content-Type"].startswith("text/css")


def test_a_file_the_browser_has_is_revalidated_by_its_etag() -> None:
    first = _get("http://h/api/ui/app.js", "app.js")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and first.status_code == 200
    again = serve(
        http_request(
            "GET",
            "http://h/api/ui/app.js",
            headers={"If-None-Match": f'"stale", {etag}'},
            route_params={"path": "app.js"},
        )
    )
    assert again.status_code == 304 and again.body == b"" and again.headers["ETag"] == etag
    assert again.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    other = _get("http://h/api/ui/app.css", "app.css")
    assert other.headers["ETag"] != etag
    stale = serve(
        http_request(
            "GET",
            "http://h/api/ui/app.css",
            headers={"If-None-Match": etag},
            route_params={"path": "app.css"},
        )
    )
    assert stale.status_code == 200 and stale.body == (UI_ROOT / "app.css").read_bytes()


def test_the_folder_without_its_slash_redirects_relatively() -> None:
    moved = _get("http://h/api/ui", None)
    assert moved.status_code == 308 and moved.headers["Location"] == "ui/"


@pytest.mark.parametrize(
    "path",
    [
        "../function_app.py",
        "views/../../host.json",
        "..%2fhost.json",
        "%2e%2e/host.json",
        "views\\..\\app.js",
        "/etc/passwd",
        "app.js\x00.css",
        "..",
        "views/%2E%2E/x.js",
    ],
)
def test_paths_that_leave_the_folder_are_refused(path: str) -> None:
    with pytest.raises(ValueError):
        resolve(path)
    response = _get("http://h/api/ui/x", path)
    assert response.status_code == 400
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path", ["missing.js", "views", "views/", ".hidden.js", "ui_static/app.js", "APP.JS", "app.py"]
)
def test_unknown_files_are_404(path: str) -> None:
    assert resolve(path) is None
    response = _get(f"http://h/api/ui/{path}", path)
    assert response.status_code == 404
    assert response.media_type == "application/problem+json"


def test_every_shipped_module_is_reachable_from_the_page() -> None:
    # A module the page imports but the allowlist does not serve would break the page.
    import re

    for source in [UI_ROOT / "app.js", *UI_ROOT.glob("views/*.js")]:
        for target in re.findall(r'from "(\.{1,2}/[^"]+)"', source.read_text()):
            served = (source.parent / target).resolve().relative_to(UI_ROOT).as_posix()
            assert resolve(served) is not None, (source.name, target)
