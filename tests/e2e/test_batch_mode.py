"""Batch mode end to end: devhost serving the app, the simulator's Files and Batches endpoints,
time skipping through the polls. Same answers as the interactive path at half the cost, tool
rounds, failed lines retried or answered interactively, cancel, and no upload or batch twice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devhost.testing import Devhost
from tests.e2e.conftest import all_items, start_run, wait_run

pytestmark = pytest.mark.slow


def _sim(app_host: Devhost, path: str, method: str = "GET", **kw: Any) -> Any:
    response = httpx.request(method, f"{app_host.simulator_url}{path}", timeout=10, **kw)
    response.raise_for_status()
    return response.json() if response.content else None


@pytest.fixture
def batches(app_host: Devhost) -> Iterator[None]:
    """The simulator's batch knobs back to their defaults after each test."""
    yield
    _sim(app_host, "/sim/config", "PUT", json={"batches": {"failed_line_rate": 0.0}})


def _answers(api: httpx.Client, run_id: str) -> dict[int, str]:
    return {item["index"]: item["answer"] for item in all_items(api, run_id, limit=100)}


def test_a_batch_run_answers_as_the_interactive_path_at_half_the_cost(
    api: httpx.Client, app_host: Devhost, batches: None
) -> None:
    before = _sim(app_host, "/sim/stats")["batches"]
    queries = [f"Summarise item {n}: the quarterly figures rose by {n} %." for n in range(1000)]
    batch = start_run(api, "summarizer", queries, mode="batch")
    view = wait_run(api, batch["runId"], timeout=120)
    assert view["status"] == "completed" and view["counts"]["completed"] == 1000, view
    interactive = start_run(api, "summarizer", queries, max_attempts=5)
    other = wait_run(api, interactive["runId"], timeout=120)
    assert other["counts"]["completed"] == 1000
    assert _answers(api, batch["runId"]) == _answers(api, interactive["runId"])
    assert view["usage"] == other["usage"]
    assert view["cost"] == pytest.approx(other["cost"] / 2, rel=1e-3)
    assert view["interactiveCost"] == pytest.approx(other["cost"], rel=1e-3)
    assert view["mode"] == "batch" and other["mode"] == "interactive"
    after = _sim(app_host, "/sim/stats")["batches"]
    # One file, one batch: uploaded and created once.
    assert after["uploads"] - before["uploads"] == 1
    assert after["creates"] - before["creates"] == 1


def test_tool_rounds_go_through_batches(api: httpx.Client, batches: None) -> None:
    queries = [f"What is {n} plus {n + 3}?" for n in range(20)]
    batch = start_run(api, "calculator", queries, mode="batch")
    view = wait_run(api, batch["runId"], timeout=120)
    assert view["counts"]["completed"] == 20, view
    # Batch answers are not cached: the interactive run asks the model too.
    interactive = start_run(api, "calculator", queries)
    other = wait_run(api, interactive["runId"], timeout=120)
    assert other["cache"]["hits"] == 0
    assert _answers(api, batch["runId"]) == _answers(api, interactive["runId"])
    assert view["usage"] == other["usage"]
    assert view["progress"]["round"] >= 2  # the tool results went in a following round


@pytest.mark.parametrize("fallback", [False, True], ids=["retried", "fallback"])
def test_failed_lines_end_completed_or_failed_with_their_reason(
    api: httpx.Client, app_host: Devhost, batches: None, fallback: bool
) -> None:
    _sim(app_host, "/sim/config", "PUT", json={"batches": {"failed_line_rate": 0.05}})
    queries = [f"Summarise note {n} for the failing case." for n in range(200)]
    options: dict[str, Any] = {"mode": "batch", "max_attempts": 2}
    if fallback:
        options["fallback"] = True
    run = start_run(api, "summarizer", queries, **options)
    view = wait_run(api, run["runId"], timeout=120)
    assert view["counts"]["pending"] == 0, view
    items = all_items(api, run["runId"], limit=100)
    assert len(items) == 200
    failed = [item for item in items if item["status"] == "failed"]
    assert all(item["error"] for item in failed)
    if fallback:
        assert not failed
    assert view["counts"]["completed"] >= 190


def test_cancel_cancels_the_providers_batch(
    api: httpx.Client, app_host: Devhost, batches: None
) -> None:
    # A long processing delay keeps the batch in progress (time skipping moves it on only
    # as far as the poll timers go).
    _sim(app_host, "/sim/config", "PUT", json={"batches": {"delay_s": 86_000.0}})
    try:
        run = start_run(api, "summarizer", [f"Long wait {n}." for n in range(5)], mode="batch")
        for _ in range(300):
            view = api.get(f"/api/runs/{run['runId']}", params={"limit": 1}).json()
            if (view.get("progress") or {}).get("batches"):
                break
        else:
            pytest.fail("no batch showed in the run's progress")
        (batch,) = view["progress"]["batches"]
        assert api.post(f"/api/runs/{run['runId']}/cancel").status_code == 202
        state = _sim(app_host, f"/v1/batches/{batch['id']}")
        assert state["status"] in ("cancelling", "cancelled")
        assert wait_run(api, run["runId"])["status"] == "canceled"
    finally:
        _sim(app_host, "/sim/config", "PUT", json={"batches": {"delay_s": 0.0}})
