"""A batch-mode run's rounds through the real store, blob folder, agent loop and an in-process
Batch API: answers equal the interactive path's, tools run between rounds, failed and expired
lines are retried within the item's budget, nothing is uploaded or created twice, and the cost
is the batch price."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from agentops.agents.batch_rounds import BatchRounds
from agentops.auth import LOCAL_PRINCIPAL
from agentops.bootstrap import Services, build_services
from agentops.model.batch_files import FileLimits
from agentops.model.batch_memory import MemoryBatchApi
from agentops.model.pricing import PriceTable
from agentops.model.types import Usage
from agentops.runs.batch_mode_service import BatchModeService
from agentops.runs.contracts import CollectWork, PollWork, RoundWork, StartWork
from agentops.runs.requests import RunRequest
from agentops.settings import Settings
from tests.agentops.model.test_request_body import REPO_AGENTS, RecordingModel

CONTAINER = "batch-rounds"


def _respond(tool: str | None) -> Any:
    model = RecordingModel(tool=tool)

    def respond(body: dict[str, Any]) -> dict[str, Any]:
        request = httpx2.Request("POST", "http://model.test/v1/chat/completions", json=body)
        return model(request).json()

    return respond


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    built = build_services(
        Settings(
            store="sqlite",
            sqlite_path=tmp_path / "agentops.db",
            blob_root=tmp_path / "blobs",
            agents_file=REPO_AGENTS,
        )
    )
    yield built
    await built.aclose()


@pytest.fixture
async def rounds(services: Services) -> AsyncIterator[BatchRounds]:
    built = BatchRounds(services.agents)
    yield built
    await built.aclose()


async def _run(
    services: Services,
    rounds: BatchRounds,
    api: MemoryBatchApi,
    agent: str,
    queries: list[str],
    *,
    max_attempts: int = 3,
    limits: FileLimits | None = None,
    fallback: bool = False,
) -> tuple[str, list[int], int]:
    """Drive the rounds as the orchestration does; the run id, fallback items, rounds made."""
    service = BatchModeService(
        services.store,
        services.agents,
        rounds,
        api,
        PriceTable(),
        services.blobs,
        container=CONTAINER,
        limits=limits,
    )
    request = RunRequest.model_validate({"queries": queries})
    run = await services.runs.create(LOCAL_PRINCIPAL, agent, request)
    todo, history, number, handed = list(range(len(queries))), None, 0, []
    while todo:
        number += 1
        work = RoundWork(
            run_id=run.run_id,
            tenant=run.tenant_id,
            agent=agent,
            round=number,
            indexes=todo,
            history=history,
        )
        plan = await service.submit(work)
        assert await service.submit(work) == plan  # re-executed: found again, not remade
        if not plan.batches:
            break
        waiting = [b.batch_id for b in plan.batches]
        while waiting:
            statuses = (await service.poll(PollWork(batch_ids=waiting))).statuses
            waiting = [b for b in waiting if statuses[b] not in ("completed", "expired")]
        collect = CollectWork(
            run_id=run.run_id,
            tenant=run.tenant_id,
            agent=agent,
            round=number,
            batches=plan.batches,
            history=history,
            max_attempts=max_attempts,
            fallback=fallback,
        )
        report = await service.collect(collect)
        # Re-executed (at least once): the same outcome, no attempt spent twice.
        assert await service.collect(collect) == report
        todo, history = report.next, report.history
        handed += report.fallback
    return run.run_id, handed, number


async def test_a_run_with_tool_rounds_ends_with_the_interactive_answers(
    services: Services, rounds: BatchRounds
) -> None:
    api = MemoryBatchApi(respond=_respond("add"))
    queries = [f"What is {n} + 2?" for n in range(7)]
    run_id, fallback, made = await _run(
        services, rounds, api, "calculator", queries, limits=FileLimits(max_requests=3)
    )
    assert fallback == [] and made == 3  # tool call, answer, then recorded
    items = await services.store.get_items(run_id, range(7))
    assert {str(item.status) for item in items} == {"completed"}
    # The recording model answers a tool round's request with its message count.
    assert {item.answer for item in items} == {"Answer to 4."}
    usage = Usage(prompt_tokens=80, completion_tokens=18)
    full = PriceTable().cost(usage, "gpt-4o-mini")
    assert all(item.usage == usage for item in items)
    assert all(item.cost == pytest.approx(full / 2) for item in items)
    # 7 items, 3 per file, 2 model rounds: 3 files a round, each uploaded and created once.
    assert (api.calls["upload"], api.calls["create"]) == (6, 6)


@pytest.mark.parametrize("fallback", [False, True], ids=["retried", "fallback"])
async def test_failed_lines_are_retried_within_the_budget_or_handed_over(
    services: Services, rounds: BatchRounds, fallback: bool
) -> None:
    def fail(label: str, custom_id: str) -> bool:
        # Item 4 fails every time, item 1 only in the first round.
        return custom_id == "4" or (custom_id == "1" and label.endswith("-r1-f0"))

    api = MemoryBatchApi(respond=_respond(None), fail=fail)
    queries = [f"Text {n}." for n in range(6)]
    run_id, handed, _ = await _run(
        services, rounds, api, "summarizer", queries, max_attempts=2, fallback=fallback
    )
    items = {item.index: item for item in await services.store.get_items(run_id, range(6))}
    assert all(str(items[i].status) == "completed" for i in (0, 2, 3, 5))
    if fallback:  # handed to the interactive path at once, pending until it answers them
        assert handed == [1, 4]
        assert [str(items[i].status) for i in (1, 4)] == ["pending", "pending"]
    else:  # item 1 made it in its second round; item 4 spent both attempts
        assert handed == []
        assert str(items[1].status) == "completed"
        assert str(items[4].status) == "failed" and items[4].error is not None
        assert items[4].error.message == "batch: status 500 (server_error) (after 2)"


async def test_an_expired_batch_sends_its_unanswered_items_again(
    services: Services, rounds: BatchRounds
) -> None:
    api = MemoryBatchApi(respond=_respond(None))
    queries = [f"Text {n}." for n in range(4)]
    original = api.create

    async def create(label: str, input_file_id: str) -> Any:
        if label.endswith("-r1-f0"):
            api.expire.add(label)
        return await original(label, input_file_id)

    api.create = create  # type: ignore[method-assign]
    run_id, fallback, _ = await _run(services, rounds, api, "summarizer", queries)
    items = await services.store.get_items(run_id, range(4))
    assert fallback == [] and {str(i.status) for i in items} == {"completed"}
    # The expired batch answered its first half; the second spent an attempt and went again.
    assert [i.attempts for i in items] == [1, 1, 2, 2]
    assert api.calls["create"] == 2


async def test_files_past_the_enqueued_token_limit_wait_uploaded(
    services: Services, rounds: BatchRounds
) -> None:
    api = MemoryBatchApi(respond=_respond(None))
    service = BatchModeService(
        services.store,
        services.agents,
        rounds,
        api,
        PriceTable(),
        services.blobs,
        container=CONTAINER,
        limits=FileLimits(max_requests=2),
        enqueued_tokens={"gpt-4o-mini": 150, "*": 1},
    )
    request = RunRequest.model_validate({"queries": [f"Text {n}." for n in range(6)]})
    run = await services.runs.create(LOCAL_PRINCIPAL, "summarizer", request)
    work = RoundWork(
        run_id=run.run_id, tenant=run.tenant_id, agent="summarizer", round=1, indexes=[*range(6)]
    )
    plan = await service.submit(work)
    assert plan.enqueued_limit == 150
    assert [b.queued for b in plan.batches] == [False, True, True]
    assert all(b.file_id and b.tokens > 0 for b in plan.batches)
    assert (api.calls["upload"], api.calls["create"]) == (3, 1)
    started = await service.start(StartWork(batches=plan.batches[1:]))
    assert [b.status for b in started.batches] == ["validating", "validating"]
    assert len({b.batch_id for b in [plan.batches[0], *started.batches]}) == 3
    again = await service.start(StartWork(batches=plan.batches[1:]))
    assert again == started and api.calls["create"] == 3  # found by label, not made twice
