"""The Durable management API on a running devhost: keyed webhooks on the public port, the SDK's
keyless RPC only on a loopback listener behind a per-process token, and URLs that no Host header
steers."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from devhost.testing import Devhost, start_devhost

from .conftest import APPS

DURABLE_APP = APPS / "http_durable"
FORGED_HOST = "attacker.example:8443"
SETTINGS = {"TASKHUB_NAME": "securitytests"}


@pytest.fixture(scope="module")
def durable() -> Iterator[Devhost]:
    with start_devhost(DURABLE_APP, env=SETTINGS) as running:
        yield running


def _raw_status(devhost: Devhost, method: str, path: str) -> int:
    """Send `path` byte for byte: httpx would normalise `..` and double slashes first."""
    address = urlsplit(devhost.base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request(method, path, body=b'"x"' if method == "POST" else None)
        return connection.getresponse().status
    finally:
        connection.close()


def _rpc_base(devhost: Devhost) -> str:
    response = httpx.get(devhost.url("/api/rpc-base"), headers=devhost.function_headers)
    assert response.status_code == 200, response.text
    return response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/durabletask/instances"),
        ("GET", "/durabletask/instances/"),
        ("POST", "/durabletask/orchestrators/greet_all"),
        ("DELETE", "/durabletask/instances/nightly"),
        ("GET", "/DurableTask/instances"),
        ("GET", "//durabletask/instances"),
        ("GET", "/durabletask//instances"),
        ("GET", "/durabletask/../durabletask/instances"),
        ("GET", "/x/../durabletask/instances"),
        ("GET", "/durabletask/%2e%2e/durabletask/instances"),
        ("GET", "/%64urabletask/instances"),
        ("GET", "/runtime/webhooks/durabletask/../../../durabletask/instances"),
        ("GET", "/runtime/webhooks/durabletask/%2e%2e/%2e%2e/%2e%2e/durabletask/instances"),
        ("GET", "/runtime/webhooks//durabletask/instances"),
        ("GET", "/Runtime/Webhooks/DurableTask/instances"),
        ("GET", "/runtime/webhooks/durabletask/instances/../instances"),
    ],
)
def test_the_public_port_serves_no_keyless_management_api(
    durable: Devhost, method: str, path: str
) -> None:
    assert _raw_status(durable, method, path) in {401, 404}


def test_an_unkeyed_start_is_refused_and_creates_nothing(durable: Devhost) -> None:
    for path in (
        "/durabletask/orchestrators/greet_all/forged",
        "/runtime/webhooks/durabletask/orchestrators/greet_all/forged",
    ):
        assert _raw_status(durable, "POST", path) in {401, 404}
    listed = httpx.get(
        durable.url("/runtime/webhooks/durabletask/instances"), headers=durable.durable_headers
    )
    assert "forged" not in {item["instanceId"] for item in listed.json()}


def test_the_sdk_rpc_is_on_a_loopback_listener_behind_a_token(durable: Devhost) -> None:
    rpc_base = _rpc_base(durable)
    rpc = urlsplit(rpc_base)
    public = urlsplit(durable.base_url)
    assert rpc.hostname == "127.0.0.1"
    assert rpc.port != public.port
    prefix, token = rpc.path.rstrip("/").rsplit("/", 1)
    assert prefix == "/durabletask" and len(token) >= 32
    assert httpx.get(f"{rpc_base}instances").status_code == 200
    listener = f"http://127.0.0.1:{rpc.port}"
    for path in (
        "/durabletask/instances",
        f"/durabletask/{token[:-1]}/instances",
        f"/durabletask/{token.upper()}/instances",
        f"/runtime/webhooks/durabletask/instances?code={durable.master_key}",
        "/api/rpc-base",
    ):
        assert httpx.get(f"{listener}{path}").status_code == 404, path
    # The token opens nothing on the public port.
    assert httpx.get(durable.url(f"/durabletask/{token}/instances")).status_code == 404


def test_the_token_changes_with_every_process(tmp_path) -> None:
    with start_devhost(DURABLE_APP, env=SETTINGS, data_dir=tmp_path) as devhost:
        first = _rpc_base(devhost)
        devhost.restart()
        second = _rpc_base(devhost)
        assert httpx.get(f"{second}instances").status_code == 200
    assert first != second


def test_a_forged_host_header_does_not_steer_management_urls() -> None:
    # A fresh host: the webhook is the first thing called, before any function built a binding.
    with start_devhost(DURABLE_APP, env=SETTINGS) as devhost:
        started = httpx.post(
            devhost.url("/runtime/webhooks/durabletask/orchestrators/greet_all/first"),
            json={"names": ["a"]},
            headers={**devhost.master_headers, "Host": FORGED_HOST},
        )
        assert started.status_code == 202, started.text
        payload = httpx.get(
            devhost.url("/api/payload/first"),
            headers={**devhost.function_headers, "Host": FORGED_HOST},
        ).json()
        checked = httpx.post(
            devhost.url("/api/orchestrators/greet_all"),
            json={"names": []},
            headers={**devhost.function_headers, "Host": FORGED_HOST},
        )
        assert checked.headers["location"].startswith(devhost.base_url)
        for body in (started.json(), payload, checked.json()):
            for name, url in body.items():
                if name == "id":
                    continue
                assert url.startswith(f"{devhost.base_url}/runtime/webhooks/durabletask/"), url
                assert f"code={devhost.durable_key}" in url
                assert devhost.master_key not in url
        assert started.headers["location"].startswith(devhost.base_url)
        status = httpx.get(
            devhost.url("/runtime/webhooks/durabletask/instances/first"),
            headers={**devhost.durable_headers, "Host": FORGED_HOST},
        )
        assert devhost.base_url in status.headers.get("location", devhost.base_url)


def test_generated_keys_survive_a_restart(tmp_path) -> None:
    with start_devhost(DURABLE_APP, env=SETTINGS, data_dir=tmp_path, generate_keys=True) as devhost:
        before = (devhost.master_key, devhost.function_key, devhost.durable_key)
        assert len(set(before)) == 3
        started = httpx.post(
            devhost.url("/api/orchestrators/greet_all"),
            json={"names": ["x"]},
            headers=devhost.function_headers,
        ).json()
        devhost.restart()
        assert (devhost.master_key, devhost.function_key, devhost.durable_key) == before
        # A status URL handed out before the restart still works after it.
        deadline = time.monotonic() + 10
        while (status := httpx.get(started["statusQueryGetUri"])).status_code == 202:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert status.status_code == 200, status.text
    assert (tmp_path / "keys.json").stat().st_mode & 0o777 == 0o600
