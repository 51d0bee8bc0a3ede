"""The model path under faults, quotas, caching and budgets, end to end: the real app in devhost
against the model simulator, with the simulator's fault schedules and durable timers that take no
wall-clock time."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from devhost.testing import Devhost, start_devhost
from tests.e2e.conftest import OPERATOR, PROJECT_ROOT, all_items, app_env, start_run, wait_run

pytestmark = pytest.mark.slow


@contextmanager
def _host(
    tmp: Path, *, time_skipping: bool = True, **settings: str
) -> Iterator[tuple[Devhost, httpx.Client]]:
    with (
        start_devhost(
            PROJECT_ROOT,
            env=app_env(tmp, **settings),
            simulator=True,
            simulator_setting="MODEL_ENDPOINT",
            time_skipping=time_skipping,
        ) as host,
        httpx.Client(
            base_url=host.base_url, headers={**host.function_headers, **OPERATOR}, timeout=30
        ) as api,
    ):
        yield host, api


def _sim_stats(host: Devhost) -> dict[str, Any]:
    return httpx.get(f"{host.simulator_url}/sim/stats", timeout=10).json()


def _queries(n: int, tag: str) -> list[str]:
    return [f"{tag} text number {i} about the harbour" for i in range(n)]


def test_a_fault_storm_loses_nothing_and_bills_once(tmp_path: Path) -> None:
    faults = {
        "rates": {"429": 0.20, "500": 0.05, "503": 0.05, "timeout": 0.05},
        "retry_after_ms": 300,
        "timeout_s": 5,
    }
    with _host(
        tmp_path,
        SIM_FAULTS=json.dumps(faults),
        SIM_SEED="7",
        # Well below the simulated hang (5 s), well above a slow answer on a loaded machine: a
        # client that gives up on an answer the server sent would be billed for it, rightly.
        MODEL_TIMEOUT_S="2",
        INLINE_RETRY_MAX_WAIT_S="0",
        MAX_ATTEMPTS="6",
        RETRY_BASE_S="1",
        BREAKER_COOLDOWN_S="0.5",
        BATCH_SIZE="5",
        MAX_IN_FLIGHT="8",
    ) as (host, api):
        started = start_run(api, "summarizer", _queries(200, "storm"))
        view = wait_run(api, started["runId"], timeout=120)
        items = all_items(api, started["runId"], limit=200)
        stats = _sim_stats(host)

    assert view["status"] == "completed"
    counts = view["counts"]
    assert counts["pending"] == 0
    assert counts["completed"] + counts["failed"] == 200 == len(items)
    for item in items:
        if item["status"] == "failed":
            assert item["error"]["kind"] and item["error"]["message"]
    assert any(item["attempts"] > 1 for item in items), "the storm should have forced retries"
    assert counts["completed"] >= 190  # six attempts against 35% faults

    # Billed once: the tokens the endpoint served are exactly the completed items' tokens.
    served = stats["tokens"]["completion"]
    billed = sum(i["usage"]["completionTokens"] for i in items if i["status"] == "completed")
    assert billed == served
    assert view["usage"]["completionTokens"] == billed
    # Model calls stay within items x attempts.
    assert stats["requests"] <= 200 * 6
    assert max(item["attempts"] for item in items) <= 6


def test_the_breaker_opens_while_the_endpoint_is_down_and_the_run_completes(
    tmp_path: Path,
) -> None:
    outage = {"schedule": [{"requests": 20}, {"duration_s": 2.0, "fault": "503"}]}
    with _host(
        tmp_path,
        time_skipping=False,  # the breaker's cool-down is real time: let timers be too
        SIM_FAULTS=json.dumps(outage),
        INLINE_RETRY_MAX_WAIT_S="0",
        MAX_ATTEMPTS="4",
        RETRY_BASE_S="0.2",
        RETRY_MAX_S="1",
        BREAKER_FAILURE_THRESHOLD="3",
        BREAKER_MIN_CALLS="5",
        BREAKER_COOLDOWN_S="0.5",
        BATCH_SIZE="4",
        MAX_IN_FLIGHT="4",
    ) as (host, api):
        started = time.monotonic()
        run = start_run(api, "summarizer", _queries(120, "outage"))
        view = wait_run(api, run["runId"], timeout=60)
        elapsed = time.monotonic() - started
        stats = _sim_stats(host)
        log = host.output
        failures = [i for i in all_items(api, run["runId"], limit=120) if i["status"] == "failed"]

    assert view["status"] == "completed"
    assert view["counts"] == {"pending": 0, "completed": 120, "failed": 0}, failures
    assert elapsed >= 2.0  # it waited out the outage rather than failing items
    assert view["progress"]["deferrals"] > 0  # items the open breaker put back
    # Calls failed fast while open: the endpoint saw few of the 503s a 2 s outage could produce
    # (16 items in flight, each retried every 0.2-1 s, would make well over 60).
    assert 3 <= stats["by_status"].get("503", 0) <= 40
    assert "open" in log.lower()


def test_a_quota_paces_calls_instead_of_collecting_429s(tmp_path: Path) -> None:
    quota = {"gpt-4o-mini": {"rpm": 3000, "window_s": 1}}
    # Paced at 80% of the quota, as operators set it: the slack absorbs the time between a
    # request leaving the limiter and reaching the server, which on a loaded 2-core machine
    # reaches 100 ms and more (at 90% the server saw bursts over its one-second window).
    with _host(
        tmp_path,
        SIM_LIMITS=json.dumps(quota),
        RATE_LIMITS=json.dumps({"gpt-4o-mini": {"rpm": 2400, "window_s": 1}}),
        BATCH_SIZE="8",
        MAX_IN_FLIGHT="8",
    ) as (host, api):
        started = time.monotonic()
        run = start_run(api, "summarizer", _queries(150, "quota"))
        view = wait_run(api, run["runId"], timeout=60)
        elapsed = time.monotonic() - started
        stats = _sim_stats(host)

    assert view["counts"]["completed"] == 150
    # Near zero: at most 5 %, since on a loaded machine with two worker processes a request can
    # reach the server well after the limiter let it go.
    assert stats["by_status"].get("429", 0) <= 8
    # 40 requests a second after a burst of 40: about 3 s; throughput stays near the quota (the
    # upper bound leaves room for a loaded machine and two worker processes starting up).
    assert 1.5 <= elapsed <= 12


def test_a_repeated_batch_is_answered_from_cache(tmp_path: Path) -> None:
    with _host(tmp_path, CACHE_ENCRYPTION_KEY="MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=") as (
        host,
        api,
    ):
        queries = _queries(12, "cached")
        first = wait_run(api, start_run(api, "summarizer", queries)["runId"])
        calls = _sim_stats(host)["requests"]
        second_id = start_run(api, "summarizer", queries)["runId"]
        second = wait_run(api, second_id)
        assert _sim_stats(host)["requests"] == calls  # no model call
        items = all_items(api, second_id)
        assert all(item["cached"] for item in items)
        assert second["cost"] == 0 and first["cost"] > 0
        # The run reports what its hits saved: what the first run paid for the same answers.
        assert second["cache"]["hits"] == 12 and first["cache"]["hits"] == 0
        assert second["cache"]["savedCost"] == pytest.approx(first["cost"], rel=1e-3)

        # A sensitive agent is cached only encrypted: with the key configured, it is cached too.
        tickets = [f"ticket {i}: my invoice is wrong" for i in range(4)]
        wait_run(api, start_run(api, "triage", tickets)["runId"])
        calls = _sim_stats(host)["requests"]
        wait_run(api, start_run(api, "triage", tickets)["runId"])
        assert _sim_stats(host)["requests"] == calls


def test_a_sensitive_agent_without_an_encryption_key_is_never_cached(
    api: httpx.Client, app_host: Devhost
) -> None:
    tickets = [f"uncached ticket {i}: password reset" for i in range(3)]
    wait_run(api, start_run(api, "triage", tickets)["runId"])
    calls = _sim_stats(app_host)["requests"]
    again = start_run(api, "triage", tickets)["runId"]
    wait_run(api, again)
    assert _sim_stats(app_host)["requests"] == calls + 3
    assert not any(item["cached"] for item in all_items(api, again))


def test_budgets_refuse_before_start_and_stop_a_run(tmp_path: Path) -> None:
    with _host(
        tmp_path,
        TENANT_BUDGETS=json.dumps({"local": {"tokens": 3000}}),
        BATCH_SIZE="2",
        MAX_IN_FLIGHT="1",
    ) as (_, api):
        run = start_run(api, "summarizer", _queries(40, "budget"))
        view = wait_run(api, run["runId"])
        assert view["status"] == "stopped"
        assert view["progress"]["stopped"] and "budget" in view["progress"]["stopped"]
        assert view["counts"]["pending"] > 0 and view["counts"]["completed"] > 0

        refused = api.post("/api/agents/summarizer/runs", json={"queries": ["one more"]})
        assert refused.status_code == 429
        problem = refused.json()
        assert problem["scope"] == "tenant:local" and problem["resetsAt"]
        assert "retry-after" in refused.headers
