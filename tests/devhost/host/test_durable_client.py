"""The durable client binding handed to HTTP functions, and the key on the Durable webhooks."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from devhost.testing import Devhost, start_devhost

from .conftest import APPS


@pytest.fixture(scope="module")
def durable() -> Iterator[Devhost]:
    with start_devhost(APPS / "http_durable", env={"TASKHUB_NAME": "hosttests"}) as running:
        yield running


def _wait_completed(url: str, timeout: float = 10.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        status = httpx.get(url).json()
        if status["runtimeStatus"] in {"Completed", "Failed", "Terminated"}:
            return status
        assert time.monotonic() < deadline, f"still {status['runtimeStatus']}"
        time.sleep(0.05)


def test_starter_uses_client_start_new_and_check_status_response(durable: Devhost) -> None:
    response = httpx.post(
        durable.url("/api/orchestrators/greet_all"),
        json={"names": ["ada", "grace"]},
        headers=durable.function_headers,
    )
    assert response.status_code == 202
    body = response.json()
    assert response.headers["location"] == body["statusQueryGetUri"]
    assert body["statusQueryGetUri"].startswith(
        f"{durable.base_url}/runtime/webhooks/durabletask/instances/{body['id']}"
    )
    # Management URLs carry the durable system key, never the master key.
    assert all(f"code={durable.durable_key}" in url for k, url in body.items() if k != "id")
    assert durable.master_key not in response.text
    status = _wait_completed(body["statusQueryGetUri"])
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["hello ada", "hello grace"]


def test_client_get_status_inside_a_function(durable: Devhost) -> None:
    started = httpx.post(
        durable.url("/api/orchestrators/greet_all"),
        json={"names": ["x"]},
        headers=durable.function_headers,
    ).json()
    _wait_completed(started["statusQueryGetUri"])
    response = httpx.get(
        durable.url(f"/api/instances/{started['id']}"), headers=durable.function_headers
    )
    assert response.json() == {"runtimeStatus": "Completed", "output": ["hello x"]}


def test_webhooks_need_the_durable_system_key_or_the_master_key(durable: Devhost) -> None:
    url = durable.url("/runtime/webhooks/durabletask/instances")
    assert httpx.get(url).status_code == 401
    # Function keys do not open the management API in Azure either.
    assert httpx.get(url, headers=durable.function_headers).status_code == 401
    assert httpx.get(url, params={"code": durable.function_key}).status_code == 401
    assert httpx.get(url, params={"code": durable.durable_key + "x"}).status_code == 401
    assert httpx.get(url, headers=durable.durable_headers).status_code == 200
    assert httpx.get(url, params={"code": durable.durable_key}).status_code == 200
    assert httpx.get(url, headers=durable.master_headers).status_code == 200
    assert httpx.get(url, params={"code": durable.master_key}).status_code == 200


def test_starter_needs_its_function_key(durable: Devhost) -> None:
    response = httpx.post(durable.url("/api/orchestrators/greet_all"), json={"names": []})
    assert response.status_code == 401


def test_timer_with_durable_client_starts_an_orchestration(durable: Devhost) -> None:
    response = httpx.post(
        durable.url("/admin/functions/nightly_greeting"), headers=durable.master_headers
    )
    assert response.status_code == 202
    status_url = durable.url("/runtime/webhooks/durabletask/instances/nightly")
    deadline = time.monotonic() + 10
    while httpx.get(status_url, headers=durable.master_headers).status_code == 404:
        assert time.monotonic() < deadline, "the timer did not start the orchestration"
        time.sleep(0.05)
    status = _wait_completed(f"{status_url}?code={durable.master_key}")
    assert status["output"] == ["hello night"]
