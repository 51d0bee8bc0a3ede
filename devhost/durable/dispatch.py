"""Activity and timer dispatch: run queued activities, fire due durable timers.

Both turn pending work into an event in the owning instance's inbox, and both drop work whose
execution has ended or been replaced meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time

from .activities import ActivityOutcome, invoke_activity, missing_function
from .clock import format_time
from .durable_http import HTTP_ACTIVITY
from .engine_state import EngineState, TimerEntry, WorkItem
from .history import EventType, make_event
from .store import Statement
from .worker_pool import WorkerLostError, WorkerStartError

logger = logging.getLogger(__name__)

# An activity whose worker process died this many times is failed rather than run again, so an
# activity that kills its worker (os._exit, a segfault) cannot loop forever.
MAX_WORKER_LOSSES = 3


class WorkDispatch(EngineState):
    """The activity workers and the timer loop."""

    # ----------------------------------------------------------------- activities

    async def _activity_worker(self) -> None:
        assert self._work is not None and self._thread_pool is not None
        while True:
            item = await self._work.get()
            instance = self.instances.get(item.instance_id)
            if (
                instance is None
                or instance.execution_id != item.execution_id
                or instance.is_terminal
            ):
                self.store.submit(
                    [
                        (
                            "DELETE FROM activity_work WHERE hub = ? AND id = ?",
                            (self.store.hub, item.work_id),
                        )
                    ]
                )
                continue
            self._running_activities += 1
            try:
                activity = self.activities.get(item.name)
                trace = instance.activity_trace()
                logger.debug(
                    "activity started: %s task %d of %s", item.name, item.task_id, item.instance_id
                )
                if item.name == HTTP_ACTIVITY:
                    outcome = await self._durable_http.call(item.input)
                elif activity is None:
                    outcome = missing_function(item.name, "an activity")
                elif item.name in self.unservable:
                    outcome = ActivityOutcome(
                        succeeded=False,
                        reason=f"Activity function '{item.name}' cannot run in devhost: "
                        f"{self.unservable[item.name]}",
                        details="",
                    )
                elif self._worker_pool is not None:
                    try:
                        outcome = await self._worker_pool.invoke(item.name, item.input, trace)
                    except WorkerLostError as error:
                        retry = self._worker_lost(item, error)
                        if retry:
                            continue
                        outcome = ActivityOutcome(
                            succeeded=False,
                            reason=f"Activity function '{item.name}' failed: {error}",
                            details="",
                        )
                else:
                    outcome = await invoke_activity(
                        activity,
                        item.input,
                        self._thread_pool,
                        trace,
                        function_directory=self.function_directory,
                    )
                logger.debug(
                    "activity %s: %s task %d of %s",
                    "completed" if outcome.succeeded else "failed",
                    item.name,
                    item.task_id,
                    item.instance_id,
                )
                self._complete_activity(item, outcome)
            finally:
                self._running_activities -= 1
                self._last_busy = time.monotonic()

    def _worker_lost(self, item: WorkItem, error: WorkerLostError) -> bool:
        """Queue an activity again after its worker died; False when it should fail instead."""
        losses = self._worker_losses.get(item.work_id, 0) + 1
        if losses >= MAX_WORKER_LOSSES or isinstance(error, WorkerStartError):
            self._worker_losses.pop(item.work_id, None)
            return False
        self._worker_losses[item.work_id] = losses
        logger.warning("activity %s of %s runs again: %s", item.name, item.instance_id, error)
        assert self._work is not None
        self._work.put_nowait(item)  # at-least-once, as after a host crash
        return True

    def _complete_activity(self, item: WorkItem, outcome: ActivityOutcome) -> None:
        self._worker_losses.pop(item.work_id, None)
        statements: list[Statement] = [
            ("DELETE FROM activity_work WHERE hub = ? AND id = ?", (self.store.hub, item.work_id))
        ]
        instance = self.instances.get(item.instance_id)
        if instance is None or instance.execution_id != item.execution_id or instance.is_terminal:
            self.store.submit(statements)
            return
        now = self.now_text()
        if outcome.succeeded:
            event = make_event(
                EventType.TASK_COMPLETED, now, TaskScheduledId=item.task_id, Result=outcome.result
            )
        else:
            event = make_event(
                EventType.TASK_FAILED,
                now,
                TaskScheduledId=item.task_id,
                Reason=outcome.reason,
                Details=outcome.details,
            )
        self._deliver(instance, item.execution_id, event, statements)

    # ----------------------------------------------------------------- timers

    def _arm_timer(self, entry: TimerEntry) -> None:
        self._armed.add((entry.instance_id, entry.execution_id, entry.timer_id))
        heapq.heappush(self._timers, entry)
        if self._timer_wakeup is not None:
            self._timer_wakeup.set()

    async def _timer_loop(self) -> None:
        assert self._timer_wakeup is not None
        while True:
            self._fire_due_timers()
            while self._timers and self._timer_key(self._timers[0]) not in self._armed:
                heapq.heappop(self._timers)
            if not self._timers:
                timeout: float | None = None
            else:
                next_fire = self._timers[0].fire_at
                if self.time_skipping and self._is_idle():
                    # Nothing can happen before the next timer: jump to it instead of waiting.
                    self.clock.advance_to(next_fire)
                    continue
                timeout = max((next_fire - self.clock.now()).total_seconds(), 0.0)
                if self.time_skipping:
                    timeout = min(timeout, self._time_skip_grace / 2)
            self._timer_wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._timer_wakeup.wait(), timeout)

    @staticmethod
    def _timer_key(entry: TimerEntry) -> tuple[str, str, int]:
        return (entry.instance_id, entry.execution_id, entry.timer_id)

    def _fire_due_timers(self) -> None:
        now = self.clock.now()
        while self._timers and self._timers[0].fire_at <= now:
            entry = heapq.heappop(self._timers)
            key = self._timer_key(entry)
            if key not in self._armed:
                continue
            self._armed.discard(key)
            instance = self.instances.get(entry.instance_id)
            delete: Statement = (
                "DELETE FROM timers WHERE hub = ? AND instance_id = ? AND execution_id = ?"
                " AND timer_id = ?",
                (self.store.hub, entry.instance_id, entry.execution_id, entry.timer_id),
            )
            if (
                instance is None
                or instance.execution_id != entry.execution_id
                or instance.is_terminal
            ):
                self.store.submit([delete])
                continue
            event = make_event(
                EventType.TIMER_FIRED,
                format_time(now),
                TimerId=entry.timer_id,
                FireAt=format_time(entry.fire_at),
            )
            self._deliver(instance, entry.execution_id, event, [delete])
