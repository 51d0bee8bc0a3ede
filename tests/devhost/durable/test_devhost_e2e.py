"""The engine inside real devhost: an HTTP starter, the check-status URLs, the webhooks."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from devhost.testing import Devhost, start_devhost

from .conftest import APPS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def devhost() -> Iterator[Devhost]:
    with start_devhost(APPS / "durable_patterns") as running:
        yield running


def _poll(url: str, headers: dict[str, str] | None = None) -> dict:
    deadline = time.monotonic() + 15
    while True:
        status = httpx.get(url, headers=headers).json()
        if status["runtimeStatus"] not in ("Pending", "Running"):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.02)


def test_http_starter_returns_check_status_urls_that_work(devhost: Devhost):
    response = httpx.post(devhost.url("/api/orchestrators/chaining"))
    assert response.status_code == 202
    urls = response.json()
    assert urls["statusQueryGetUri"].startswith(f"{devhost.base_url}/runtime/webhooks/durabletask/")
    assert f"code={devhost.durable_key}" in urls["statusQueryGetUri"]
    assert devhost.master_key not in response.text
    status = _poll(urls["statusQueryGetUri"])  # the key travels in the URL, as in Azure
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hello Tokyo", "Hi Seattle", "Hello London"]


@pytest.fixture(scope="module")
def real_time_devhost() -> Iterator[Devhost]:
    # With time skipping, the race's day-long timer fires once the engine has been idle for
    # 0.1 s: an event raised by a test on a loaded machine could lose to it.
    with start_devhost(APPS / "durable_patterns", time_skipping=False) as running:
        yield running


def test_events_and_timers_through_the_webhooks(real_time_devhost: Devhost):
    devhost = real_time_devhost
    urls = httpx.post(devhost.url("/api/orchestrators/race")).json()
    event_url = urls["sendEventPostUri"].replace("{eventName}", "Answer")
    assert httpx.post(event_url, json="7").status_code == 202
    assert _poll(urls["statusQueryGetUri"])["output"] == {"winner": "event", "value": 7}


def test_webhook_errors(devhost: Devhost):
    headers = devhost.durable_headers
    missing = httpx.get(
        devhost.url("/runtime/webhooks/durabletask/instances/nope"), headers=headers
    )
    assert missing.status_code == 404
    malformed = httpx.post(
        devhost.url("/runtime/webhooks/durabletask/orchestrators/chaining"),
        content=b"{oops",
        headers=headers,
    )
    assert malformed.status_code == 400
    assert "not valid JSON" in malformed.json()["Message"]
