"""The metrics recorded outside the model-call path, read back from the in-memory meter: a batch
run with failures, retries and deferrals, a tool-using agent, a conversation, a backup, a restore
and a report, against the real SQLite store, a folder blob store and the model simulator."""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from agentops.auth import Principal
from agentops.backup import BackupNotFoundError, BackupWork
from agentops.bootstrap import Services, build_services
from agentops.model.types import PermanentModelError
from agentops.reports.periods import ReportWork
from agentops.runs.contracts import BatchWork, FinalizeWork
from agentops.runs.requests import AskRequest, RunRequest
from agentops.settings import Settings
from devhost.simulator.config import SimulatorConfig
from devhost.simulator.server import RunningSimulator, serve_in_background
from tests.metric_checks import assert_no_value_holds, assert_within_registry, attribute_sets
from tests.telemetry_capture import CapturedTelemetry

USER = Principal("user-5b1f0c9e", "ada", "acme", frozenset({"runs.write"}))
MODEL_KEY = "sk-metric-scan-4f8a2c1e9b7d"
SECRET_TEXT = "nightjar memo for ada.lovelace@example.com"
UNKNOWN_TOOL = json.dumps({"name": "delete_everything", "arguments": {}})
ADD = json.dumps({"name": "add", "arguments": {"a": 2, "b": 3}})
DIVIDE_BY_ZERO = json.dumps({"name": "divide", "arguments": {"a": 1, "b": 0}})

type Outcome = tuple[str, str | None]


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with serve_in_background(SimulatorConfig()) as running:
        yield running


def _settings(tmp_path: Path, sim: RunningSimulator, **overrides: Any) -> Settings:
    return Settings(
        store="sqlite",
        sqlite_path=tmp_path / "agentops.db",
        blob_root=tmp_path / "blobs",
        model_endpoint=sim.url,
        model_api_key=SecretStr(MODEL_KEY),
        max_attempts=3,
        inline_retry_max_wait_s=0,
        # One failure opens the breaker, so that the next item is deferred.
        breaker_failure_threshold=1,
        breaker_min_calls=1,
        **overrides,
    )


@pytest.fixture
async def services(tmp_path: Path, sim: RunningSimulator) -> AsyncIterator[Services]:
    built = build_services(_settings(tmp_path, sim))
    yield built
    await built.aclose()


async def _run(services: Services, agent: str, queries: list[str]) -> str:
    run = await services.runs.create(USER, agent, RunRequest(queries=queries))
    return run.run_id


def _work(run_id: str, indexes: list[int], **fields: Any) -> BatchWork:
    return BatchWork(run_id=run_id, tenant="acme", agent="summarizer", indexes=indexes, **fields)


def _faults(sim: RunningSimulator, rates: dict[str, float]) -> None:
    sim.app.state.simulator.apply(SimulatorConfig.model_validate({"faults": {"rates": rates}}))


async def _store_outcomes(services: Services, runs: dict[str, int]) -> Counter[Outcome]:
    """(status, error kind) of every item of `runs` (run id: item count), as the store has it."""
    stored: Counter[Outcome] = Counter()
    for run_id, size in runs.items():
        for item in await services.store.get_items(run_id, list(range(size))):
            stored[(item.status.value, item.error.kind if item.error else None)] += 1
    return stored


def _metered_outcomes(captured: CapturedTelemetry) -> Counter[Outcome]:
    metered: Counter[Outcome] = Counter()
    for point in captured.points("agentops.items.finished"):
        metered[(point.attributes["outcome"], point.attributes.get("reason"))] += int(point.value)
    return metered


async def test_item_and_run_metrics_match_the_store_for_a_run_with_failures(
    services: Services, captured_telemetry: CapturedTelemetry
) -> None:
    # Two answers, a content-filter refusal and a call of a tool the agent does not have.
    queries = [
        f"alpha {SECRET_TEXT}",
        "beta",
        "bad [simulate-content-filter]",
        f"go [simulate-tool-call {UNKNOWN_TOOL}]",
    ]
    run_id = await _run(services, "summarizer", queries)
    await services.batches.run(_work(run_id, [0, 1, 2, 3]))
    await services.batches.run(_work(run_id, [0, 1, 2, 3]))  # re-executed: counts nothing new
    await services.batches.finalize(FinalizeWork(run_id=run_id, status="completed"))
    await services.batches.finalize(FinalizeWork(run_id=run_id, status="completed"))  # again

    metered = _metered_outcomes(captured_telemetry)
    assert metered == await _store_outcomes(services, {run_id: 4})
    assert metered == {("completed", None): 2, ("failed", "permanent"): 2}
    counts = (await services.store.item_totals(run_id)).counts
    assert (metered["completed", None], metered["failed", "permanent"]) == (
        counts.completed,
        counts.failed,
    )
    finished = captured_telemetry.points("agentops.items.finished")
    assert attribute_sets(finished) == {
        frozenset({"agent", "deployment", "outcome"}),
        frozenset({"agent", "deployment", "outcome", "reason"}),
    }
    assert {p.attributes["deployment"] for p in finished} == {"gpt-4o-mini"}

    total = captured_telemetry.total
    assert total("agentops.runs.finished", agent="summarizer", status="completed") == 1
    assert attribute_sets(captured_telemetry.points("agentops.runs.finished")) == {
        frozenset({"agent", "status"})
    }
    assert total("agent.errors.total", agent="summarizer", error__type="permanent") == 2
    assert attribute_sets(captured_telemetry.points("agent.errors.total")) == {
        frozenset({"agent", "error.type"})
    }
    # Agent runs: the two answers and the two refusals.
    assert total("agent.executed.total", agent="summarizer", outcome="success") == 2
    assert total("agent.executed.total", agent="summarizer", outcome="error") == 2
    assert attribute_sets(captured_telemetry.points("agent.executed.total")) == {
        frozenset({"agent", "outcome"})
    }
    assert total("agent.created.total", agent="summarizer") == 1  # built once, then reused
    assert attribute_sets(captured_telemetry.points("agent.created.total")) == {
        frozenset({"agent"})
    }

    points = captured_telemetry.points()
    assert_within_registry(points)
    assert_no_value_holds(points, [SECRET_TEXT, "nightjar", MODEL_KEY, run_id, USER.id])


async def test_retries_and_deferrals_by_reason_and_failures_after_them(
    services: Services, sim: RunningSimulator, captured_telemetry: CapturedTelemetry
) -> None:
    # The endpoint fails: the first item is sent back for a retry and opens the breaker, the
    # second is deferred; on their last chance both fail while the breaker is still open.
    _faults(sim, {"503": 1.0})
    run_id = await _run(services, "summarizer", ["gamma", "delta"])
    first = await services.batches.run(_work(run_id, [0, 1], concurrency=1))
    assert (first.retry, first.deferred) == ([0], [1])
    last = await services.batches.run(_work(run_id, [0, 1], attempt=2, last_chance=[0, 1]))
    assert last.failed == 2
    await services.batches.finalize(FinalizeWork(run_id=run_id, status="completed"))

    metered = _metered_outcomes(captured_telemetry)
    assert metered == await _store_outcomes(services, {run_id: 2})
    assert metered == {("failed", "transient"): 2}
    total = captured_telemetry.total
    assert total("agentops.items.retries", agent="summarizer", reason="server_error") == 1
    assert total("agentops.items.deferrals", agent="summarizer", reason="breaker_open") == 1
    for name in ("agentops.items.retries", "agentops.items.deferrals"):
        assert attribute_sets(captured_telemetry.points(name)) == {frozenset({"agent", "reason"})}
    assert total("agent.errors.total", agent="summarizer", error__type="transient") == 2
    # One agent run, the 503: the deferred item and the last chances never reached the agent.
    assert total("agent.executed.total", agent="summarizer", outcome="transient_error") == 1
    assert total("agent.executed.total") == 1


async def test_a_spent_budget_defers_the_items_it_stops(
    tmp_path: Path, sim: RunningSimulator, captured_telemetry: CapturedTelemetry
) -> None:
    # The run is accepted under no budget; the workers then run under a spent one.
    accepting = build_services(_settings(tmp_path, sim))
    try:
        run_id = await _run(accepting, "summarizer", ["one", "two"])
    finally:
        await accepting.aclose()
    spent = build_services(_settings(tmp_path, sim, tenant_budgets={"acme": {"tokens": 1}}))
    try:
        report = await spent.batches.run(_work(run_id, [0, 1]))
    finally:
        await spent.aclose()
    assert report.stopped and report.completed == 0
    assert captured_telemetry.total("agentops.items.deferrals", reason="budget") == 2
    assert not captured_telemetry.points("agentops.items.finished")


async def test_tool_calls_are_counted_and_timed_and_a_failing_tool_counts_as_an_error(
    services: Services, captured_telemetry: CapturedTelemetry
) -> None:
    answer = await services.conversations.ask(
        USER, "calculator", AskRequest(query=f"[simulate-tool-call {ADD}]")
    )
    assert "5" in answer["answer"]
    with pytest.raises(PermanentModelError):
        await services.conversations.ask(
            USER, "calculator", AskRequest(query=f"[simulate-tool-call {DIVIDE_BY_ZERO}]")
        )

    total = captured_telemetry.total
    assert (
        total("agent.tools.invoked.total", agent="calculator", tool="add", outcome="success") == 1
    )
    assert (
        total("agent.tools.invoked.total", agent="calculator", tool="divide", outcome="error") == 1
    )
    durations = captured_telemetry.points("agent.tool.duration")
    assert {(p.attributes["tool"], p.count) for p in durations} == {("add", 1), ("divide", 1)}
    assert all(p.unit == "ms" and p.value >= 0 for p in durations)
    assert attribute_sets(durations) == {frozenset({"agent", "tool"})}
    assert attribute_sets(captured_telemetry.points("agent.tools.invoked.total")) == {
        frozenset({"agent", "tool", "outcome"})
    }
    assert total("agent.executed.total", agent="calculator", outcome="success") == 1
    assert total("agent.executed.total", agent="calculator", outcome="error") == 1
    assert_within_registry(captured_telemetry.points())


async def test_a_conversation_reads_and_writes_its_thread(
    services: Services, captured_telemetry: CapturedTelemetry
) -> None:
    started = await services.conversations.ask(USER, "summarizer", AskRequest(query=SECRET_TEXT))
    thread_id = started["thread_id"]
    await services.conversations.ask(
        USER, "summarizer", AskRequest(query="and then?", thread_id=thread_id)
    )

    operations = captured_telemetry.points("agent.memory.operations.total")
    assert attribute_sets(operations) == {frozenset({"agent", "operation"})}
    total = captured_telemetry.total
    assert total("agent.memory.operations.total", agent="summarizer", operation="write") == 2
    assert total("agent.memory.operations.total", agent="summarizer", operation="read") == 1
    points = captured_telemetry.points()
    assert_within_registry(points)
    assert_no_value_holds(points, [SECRET_TEXT, thread_id, USER.id, USER.name, MODEL_KEY])


async def test_backups_restores_and_reports_count_once_by_kind_and_outcome(
    tmp_path: Path,
    sim: RunningSimulator,
    captured_telemetry: CapturedTelemetry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("BACKUP_ENCRYPTION_KEY", json.dumps({"active": "k", "keys": {"k": key}}))
    services = build_services(_settings(tmp_path, sim))  # reads the key set just now
    try:
        await _maintain(services)
    finally:
        await services.aclose()
    maintenance = captured_telemetry.points("agentops.maintenance.runs")
    assert attribute_sets(maintenance) == {frozenset({"kind", "outcome"})}
    assert_within_registry(captured_telemetry.points())
    counted: Counter[tuple[str, str]] = Counter()
    for point in maintenance:
        counted[(point.attributes["kind"], point.attributes["outcome"])] += int(point.value)
    assert counted == {
        ("backup", "completed"): 1,
        ("backup", "failed"): 1,
        ("prune", "completed"): 1,
        ("restore", "dry_run"): 1,
        ("restore", "completed"): 1,
        ("restore", "missing"): 1,
        ("report_cost", "completed"): 1,
        ("report_compliance", "completed"): 1,
        ("report_compliance", "failed"): 1,
    }


async def _maintain(services: Services) -> None:
    """A backup made twice, restored three ways, a backup step that fails, retention; reports
    of each kind, one built twice, one for a day that has not ended."""
    await _run(services, "summarizer", ["something to back up"])
    now = datetime.now(UTC)
    work = BackupWork(
        backup_id=f"backup-{now:%Y%m%d%H}",
        period_start=now - timedelta(hours=1),
        period_end=now,
    )
    backups = await services.backups()
    await backups.create(work, now=now)
    await backups.create(work, now=now)  # already sealed: not a second backup
    await backups.restore(work.backup_id, dry_run=True)
    await backups.restore(work.backup_id)
    with pytest.raises(BackupNotFoundError):
        await backups.restore("backup-2001010100")
    with pytest.raises(ValueError):  # a step that raises: counted, and the error goes on
        await backups.backup_collection(f"backup-{now:%Y%m%d}00", "no_such_collection")
    await backups.prune(now=now)
    await backups.prune(now=now, dry_run=True)  # looked, deleted nothing: not a prune run

    reports = services.reports()
    day = (now - timedelta(days=1)).date()
    await reports.build(ReportWork(kind="cost", day=day))
    await reports.build(ReportWork(kind="cost", day=day))  # stored already
    await reports.build(ReportWork(kind="compliance", day=day))
    with pytest.raises(ValueError, match="not ended"):
        await reports.build(ReportWork(kind="compliance", day=now.date()))
