"""Batch mode of the agent_batch orchestration: a run through the provider's Batch API, in rounds.

Each round, one activity builds the pending items' requests, records the items that need the
model no more, and uploads and creates the round's batches (found again by label when it runs
twice). The orchestrator then polls the batches on durable timers with a doubling back-off (no
activity ever waits), and once every batch has ended, one activity reads them back: answered
items and retried lines make up the next round, which records answers or sends tool results.
Files beyond the run's enqueued-token limit at the deployment wait, uploaded, and are made
batches as earlier ones end. Items handed over (``fallback``) then run through the interactive
path's run_agent_batch.

The custom status shows the round and its batches with their provider ids and states. Pure like
the rest of the orchestration: time from ``context.current_utc_datetime``, no I/O.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities.batch_mode import (
    collect_batch_round,
    poll_batches,
    start_batches,
    submit_batch_round,
)
from activities.run_agent_batch import run_agent_batch
from agentops.model.batch_api import FINAL_STATES
from agentops.model.retry import RetryPolicy
from agentops.runs.batch_mode_service import fits
from agentops.runs.contracts import (
    BatchReport,
    BatchWork,
    ChunkReport,
    CollectWork,
    PollReport,
    PollWork,
    ProviderBatch,
    RoundPlan,
    RoundReport,
    RoundWork,
    RunSpec,
    StartReport,
    StartWork,
)

ACTIVITY_CRASH_RETRY = df.RetryOptions(
    first_retry_interval_in_milliseconds=1000, max_number_of_attempts=3
)
# The provider's target is 24 hours: look soon (small batches finish in minutes), then less
# and less often.
FIRST_POLL = timedelta(seconds=30)
MAX_POLL = timedelta(minutes=10)
# Bounds a run whose items keep coming back (tool rounds are bounded per item by the agent's
# limit, retries by the attempts): the sum of both and then some.
MAX_ROUNDS = 80


def run_batch_mode(
    context: df.DurableOrchestrationContext, spec: RunSpec
) -> Generator[Any, Any, ChunkReport]:
    todo = list(range(spec.start, spec.end))
    history: str | None = None
    completed = failed = 0
    handed: list[int] = []
    number = 0
    while todo and number < MAX_ROUNDS:
        number += 1
        round_work = RoundWork(
            run_id=spec.run_id,
            tenant=spec.tenant,
            agent=spec.agent,
            round=number,
            indexes=todo,
            history=history,
            trace=spec.trace,
        )
        plan = RoundPlan.model_validate(
            (
                yield context.call_activity_with_retry(
                    submit_batch_round, ACTIVITY_CRASH_RETRY, round_work.model_dump()
                )
            )
        )
        completed += plan.completed
        failed += plan.failed
        if not plan.batches:
            todo = []
            break
        batches = list(plan.batches)
        delay = FIRST_POLL
        while True:
            batches = yield from _start_queued(context, spec, batches, plan.enqueued_limit)
            _status(context, spec, completed, failed, number, batches)
            open_ids = [
                b.batch_id for b in batches if b.status not in FINAL_STATES and not b.queued
            ]
            if not open_ids:
                break
            yield context.create_timer(context.current_utc_datetime + delay)
            delay = min(delay * 2, MAX_POLL)
            polled = PollReport.model_validate(
                (
                    yield context.call_activity_with_retry(
                        poll_batches,
                        ACTIVITY_CRASH_RETRY,
                        PollWork(batch_ids=open_ids, trace=spec.trace).model_dump(),
                    )
                )
            )
            batches = [
                b.model_copy(update={"status": polled.statuses.get(b.batch_id, b.status)})
                for b in batches
            ]
        collect = CollectWork(
            run_id=spec.run_id,
            tenant=spec.tenant,
            agent=spec.agent,
            round=number,
            batches=batches,
            history=history,
            max_attempts=spec.max_attempts,
            fallback=spec.fallback,
            trace=spec.trace,
        )
        report = RoundReport.model_validate(
            (
                yield context.call_activity_with_retry(
                    collect_batch_round, ACTIVITY_CRASH_RETRY, collect.model_dump()
                )
            )
        )
        failed += report.failed
        handed += report.fallback
        todo, history = report.next, report.history
    if handed:
        done, lost = yield from _interactive(context, spec, handed)
        completed += done
        failed += lost
    pending = spec.size - completed - failed
    _status(context, spec, completed, failed, number, [])
    return ChunkReport(completed=completed, failed=failed, pending=pending)


def _start_queued(
    context: df.DurableOrchestrationContext,
    spec: RunSpec,
    batches: list[ProviderBatch],
    limit: int | None,
) -> Generator[Any, Any, list[ProviderBatch]]:
    """Start the queued files that fit beside the batches still enqueued, in file order."""
    enqueued = sum(b.tokens for b in batches if not b.queued and b.status not in FINAL_STATES)
    ready: list[ProviderBatch] = []
    for batch in batches:
        if batch.queued and fits(enqueued, batch.tokens, limit):
            ready.append(batch)
            enqueued += batch.tokens
    if not ready:
        return batches
    started = StartReport.model_validate(
        (
            yield context.call_activity_with_retry(
                start_batches,
                ACTIVITY_CRASH_RETRY,
                StartWork(batches=ready, trace=spec.trace).model_dump(),
            )
        )
    )
    by_label = {b.label: b for b in started.batches}
    return [by_label.get(b.label, b) for b in batches]


def _interactive(
    context: df.DurableOrchestrationContext, spec: RunSpec, indexes: list[int]
) -> Generator[Any, Any, tuple[int, int]]:
    """The handed-over items through run_agent_batch, retried on timers within the budget."""
    policy = RetryPolicy(
        max_attempts=spec.max_attempts, base_s=spec.retry_base_s, max_s=spec.retry_max_s
    )
    completed = failed = 0
    todo = indexes
    for attempt in range(1, spec.max_attempts + 1):
        groups = [todo[i : i + spec.batch_size] for i in range(0, len(todo), spec.batch_size)]
        last = attempt == spec.max_attempts
        tasks = [
            context.call_activity_with_retry(
                run_agent_batch,
                ACTIVITY_CRASH_RETRY,
                BatchWork(
                    run_id=spec.run_id,
                    tenant=spec.tenant,
                    agent=spec.agent,
                    indexes=group,
                    concurrency=spec.item_concurrency,
                    attempt=attempt,
                    last_chance=group if last else [],
                    instance_id=context.instance_id,
                    trace=spec.trace,
                ).model_dump(),
            )
            for group in groups
        ]
        reports = [BatchReport.model_validate(r) for r in (yield context.task_all(tasks))]
        completed += sum(r.completed for r in reports)
        failed += sum(r.failed for r in reports)
        todo = [i for r in reports for i in (*r.retry, *r.deferred)]
        if not todo:
            break
        wait = max(r.retry_after_s for r in reports) or None
        delay = policy.redispatch_delay(
            attempt, item_key=str(todo[0]), seed=spec.run_id, retry_after_s=wait
        )
        yield context.create_timer(context.current_utc_datetime + delay)
    return completed, failed


def _status(
    context: df.DurableOrchestrationContext,
    spec: RunSpec,
    completed: int,
    failed: int,
    number: int,
    batches: list[ProviderBatch],
) -> None:
    context.set_custom_status(
        {
            "completed": completed,
            "failed": failed,
            "pending": spec.size - completed - failed,
            "stopped": None,
            "mode": "batch",
            "round": number,
            "batches": [
                {"id": b.batch_id, "status": b.status, "items": len(b.indexes)} for b in batches
            ],
        }
    )
