"""The agent_batch orchestration: answer every item of a run, B items per activity, at most W
activities in flight as a sliding window, transient failures re-dispatched after a durable timer.

Deterministic by construction: no I/O, no clock but `context.current_utc_datetime`, no randomness
(the back-off jitter is a hash of the run id and attempt). Runs above `chunk_size` items are split
into sub-orchestrations so that no single history grows without bound. The run's trace context
(`RunSpec.trace`) is copied into every activity's input; no span starts here, since this replays.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice, pairwise
from typing import Any, NamedTuple

import azure.durable_functions as df

from activities.run_agent_batch import finalize_run, run_agent_batch
from agentops.model.retry import RetryPolicy
from agentops.runs.contracts import (
    BatchReport,
    BatchWork,
    ChunkReport,
    FinalizeWork,
    RunSpec,
    chunk_instance_id,
)
from orchestrations.agent_batch_api import run_batch_mode

bp = df.Blueprint()

# Covers activities that crash (the worker died, the store was unreachable); model errors never
# crash an activity, they come back in its report and have their own retry budget per item.
ACTIVITY_CRASH_RETRY = df.RetryOptions(
    first_retry_interval_in_milliseconds=1000, max_number_of_attempts=3
)


# An open circuit defers items without spending their attempts; this bounds how long a run
# waits for an endpoint that never comes back (each wait is the breaker's cool-down).
MAX_DEFERRALS = 50


class _Item(NamedTuple):
    """An item back from a retry or a deferral, with what it has spent so far."""

    index: int
    attempt: int
    deferrals: int


@dataclass(frozen=True, slots=True)
class _Group:
    """One batch activity's items, as parallel lists: every replay rebuilds the groups of every
    batch dispatched so far, and lists of plain ints cost a fraction of an object per item."""

    indexes: list[int]
    attempts: list[int]
    deferrals: list[int]

    @property
    def attempt(self) -> int:
        return max(self.attempts)

    def last_chance(self, max_attempts: int) -> list[int]:
        """The items that run for the last time: out of attempts, or deferred too often."""
        return [
            index
            for index, attempt, deferrals in zip(
                self.indexes, self.attempts, self.deferrals, strict=True
            )
            if attempt >= max_attempts or deferrals >= MAX_DEFERRALS
        ]

    def returning(self, indexes: list[int], *, spent: bool) -> list[_Item]:
        """The items of `indexes` as they come back: one attempt more, or one deferral more."""
        position = {index: n for n, index in enumerate(self.indexes)}
        back = []
        for index in indexes:
            attempt, deferrals = self.attempts[position[index]], self.deferrals[position[index]]
            back.append(
                _Item(index, attempt + 1, deferrals)
                if spent
                else _Item(index, attempt, deferrals + 1)
            )
        return back


@bp.orchestration_trigger(context_name="context")
def agent_batch(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    spec = RunSpec.model_validate(context.get_input())
    try:
        if spec.mode == "batch":
            report = yield from run_batch_mode(context, spec)
        elif spec.size > spec.chunk_size:
            report = yield from _run_chunks(context, spec)
        else:
            report = yield from _run_window(context, spec)
    except Exception as error:
        if spec.is_root:
            yield context.call_activity(
                finalize_run,
                FinalizeWork(
                    run_id=spec.run_id, status="failed", reason=str(error), trace=spec.trace
                ).model_dump(),
            )
        raise
    if spec.is_root:
        status = "stopped" if report.stopped else "completed"
        yield context.call_activity(
            finalize_run,
            FinalizeWork(
                run_id=spec.run_id, status=status, reason=report.stopped, trace=spec.trace
            ).model_dump(),
        )
    return report.model_dump()


def _run_window(
    context: df.DurableOrchestrationContext, spec: RunSpec
) -> Generator[Any, Any, ChunkReport]:
    fresh = iter(range(spec.start, spec.end))
    # Items whose retry timer fired, waiting for a slot. They are packed into full batches with
    # each other and with fresh items, so that retries do not shrink the window's concurrency.
    returning: deque[_Item] = deque()
    running: list[tuple[Any, _Group]] = []  # batch activities in flight
    waiting: list[tuple[Any, list[_Item]]] = []  # durable timers before a retry
    completed = failed = deferrals = 0
    stopped: str | None = None
    policy = RetryPolicy(
        max_attempts=spec.max_attempts, base_s=spec.retry_base_s, max_s=spec.retry_max_s
    )

    while True:
        while len(running) < spec.max_in_flight and stopped is None:
            group = _next_group(returning, fresh, spec.batch_size)
            if group is None:
                break
            work = BatchWork(
                run_id=spec.run_id,
                tenant=spec.tenant,
                agent=spec.agent,
                indexes=group.indexes,
                concurrency=spec.item_concurrency,
                attempt=group.attempt,
                last_chance=group.last_chance(spec.max_attempts),
                instance_id=context.instance_id,
                trace=spec.trace,  # copied, never started here: this code replays
            )
            task = context.call_activity_with_retry(
                run_agent_batch, ACTIVITY_CRASH_RETRY, work.model_dump()
            )
            running.append((task, group))
        if stopped is not None:
            waiting.clear()  # the run stops dispatching; those items stay pending
        if not running and not waiting:
            break
        progress = ChunkReport(
            completed=completed, failed=failed, stopped=stopped, deferrals=deferrals
        )
        context.set_custom_status(_with_pending(progress, spec).model_dump())
        winner = yield context.task_any([task for task, _ in running + waiting])

        back = _pop(waiting, winner)
        if back is not None:
            returning.extend(back)
            continue
        group = _pop(running, winner)
        assert group is not None, "task_any returned a task this orchestration did not start"
        if isinstance(winner.result, Exception):
            raise winner.result  # the activity crashed on every attempt: fail loudly
        report = BatchReport.model_validate(winner.result)
        completed += report.completed
        failed += report.failed
        stopped = stopped or report.stopped
        if stopped is not None:
            continue
        if report.retry:
            delay = policy.redispatch_delay(
                group.attempt,
                item_key=str(report.retry[0]),
                seed=spec.run_id,
                retry_after_s=report.retry_after_s or None,
            )
            timer = context.create_timer(context.current_utc_datetime + delay)
            waiting.append((timer, group.returning(report.retry, spent=True)))
        if report.deferred:
            deferrals += len(report.deferred)
            # Come back when the breaker's cool-down ends; no attempt was spent.
            delay = timedelta(seconds=max(report.retry_after_s, spec.retry_base_s))
            timer = context.create_timer(context.current_utc_datetime + delay)
            waiting.append((timer, group.returning(report.deferred, spent=False)))

    report = _with_pending(
        ChunkReport(completed=completed, failed=failed, stopped=stopped, deferrals=deferrals), spec
    )
    context.set_custom_status(report.model_dump())
    return report


def _run_chunks(
    context: df.DurableOrchestrationContext, spec: RunSpec
) -> Generator[Any, Any, ChunkReport]:
    bounds = chunk_bounds(spec.start, spec.end, spec.chunk_size)
    # Up to W children at once, splitting the window of W activities between them. A child
    # waiting out the back-off of its last retries then idles only its own share, and the share
    # of a child that ends goes to the next chunk.
    free = spec.max_in_flight
    lanes = min(len(bounds), spec.max_in_flight)
    todo = deque(enumerate(bounds))
    running: list[tuple[Any, int]] = []  # (task, window it holds)
    totals = ChunkReport()

    while todo or running:
        while todo and free > 0 and totals.stopped is None:
            number, (start, end) = todo.popleft()
            window = max(1, free // max(1, min(lanes - len(running), len(todo) + 1)))
            free -= window
            child = spec.model_copy(
                update={"start": start, "end": end, "max_in_flight": window, "is_root": False}
            )
            task = context.call_sub_orchestrator(
                agent_batch, child.model_dump(), instance_id=chunk_instance_id(spec.run_id, number)
            )
            running.append((task, window))
        if not running:
            break
        context.set_custom_status(_with_pending(totals, spec).model_dump())
        winner = yield context.task_any([task for task, _ in running])
        free += _pop(running, winner) or 0
        if isinstance(winner.result, Exception):
            raise winner.result
        child_report = ChunkReport.model_validate(winner.result)
        totals = ChunkReport(
            completed=totals.completed + child_report.completed,
            failed=totals.failed + child_report.failed,
            stopped=totals.stopped or child_report.stopped,
            deferrals=totals.deferrals + child_report.deferrals,
        )
    result = _with_pending(totals, spec)
    context.set_custom_status(result.model_dump())
    return result


def _with_pending(report: ChunkReport, spec: RunSpec) -> ChunkReport:
    """`report` with its range's items not yet ended: the progress the orchestration shows (its
    custom status) and returns."""
    return report.model_copy(update={"pending": spec.size - report.completed - report.failed})


def chunk_bounds(start: int, end: int, chunk_size: int) -> list[tuple[int, int]]:
    """``[start, end)`` in as many chunks as ``chunk_size`` asks for, of sizes that differ by one
    at most. A chunk keeps the share of the window it started with until it ends, so a short last
    chunk (6,000 items as 5,000 + 1,000) would leave its share idle while the long one runs on at
    half the run's concurrency; equal chunks end together. The count, and so every chunk's
    instance id, is the same as with full chunks and a short last one."""
    count = -(-(end - start) // chunk_size)
    size, longer = divmod(end - start, count)
    firsts = [start + number * size + min(number, longer) for number in range(count + 1)]
    return list(pairwise(firsts))


def _next_group(returning: deque[_Item], fresh: Iterator[int], size: int) -> _Group | None:
    """Up to `size` items: those back from a retry first, then fresh ones in index order."""
    back = [returning.popleft() for _ in range(min(size, len(returning)))]
    new = list(islice(fresh, size - len(back)))
    if not back and not new:
        return None
    return _Group(
        indexes=[item.index for item in back] + new,
        attempts=[item.attempt for item in back] + [1] * len(new),
        deferrals=[item.deferrals for item in back] + [0] * len(new),
    )


def _pop[T](entries: list[tuple[Any, T]], task: Any) -> T | None:
    for position, (candidate, value) in enumerate(entries):
        if candidate is task:
            del entries[position]
            return value
    return None
