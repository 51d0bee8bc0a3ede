"""The durable engine: orchestrator replays, activity workers, durable timers, all persisted."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import starlette.routing
from azure.functions.decorators.function_app import Function

from .activities import ActivityFunction, ActivityOutcome, invoke_activity, missing_function
from .binding import client_binding
from .clock import EngineClock, format_time, parse_time
from .history import RETRY_MARK, Event, EventType, make_event
from .instances import UPSERT_INSTANCE, Instance
from .replay import EpisodeResult, NewTask, run_episode
from .store import DurableStore, Statement
from .worker_pool import ActivityWorkerPool, WorkerLostError, WorkerStartError

logger = logging.getLogger(__name__)

# An activity whose worker process died this many times is failed rather than run again, so an
# activity that kills its worker (os._exit, a segfault) cannot loop forever.
MAX_WORKER_LOSSES = 3

NON_DETERMINISM_HINT = (
    "Was a change made to the orchestrator code after this instance had already started running?"
)


class UnknownOrchestratorError(ValueError):
    """A start request named a function that is not an orchestrator of this app."""


class InstanceNotFoundError(LookupError):
    """No instance with that id exists in this task hub."""


class InstanceGoneError(RuntimeError):
    """The instance has already reached a terminal state."""


@dataclass(frozen=True)
class WorkItem:
    work_id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass(order=True, frozen=True)
class TimerEntry:
    fire_at: datetime
    instance_id: str
    execution_id: str
    timer_id: int


class DurableEngine:
    """Runs the durable functions of one app against one SQLite task hub."""

    def __init__(
        self,
        functions: Sequence[Function],
        *,
        db_path: Path,
        task_hub: str,
        max_concurrent_activities: int,
        max_concurrent_orchestrators: int,
        time_skipping: bool = False,
        time_skip_grace: float = 0.1,
        worker_pool: ActivityWorkerPool | None = None,
    ) -> None:
        if max_concurrent_activities < 1 or max_concurrent_orchestrators < 1:
            raise ValueError("concurrency limits must be at least 1")
        self.task_hub = task_hub
        self.time_skipping = time_skipping
        self._time_skip_grace = time_skip_grace
        self._max_activities = max_concurrent_activities
        self._max_orchestrators = max_concurrent_orchestrators
        self.orchestrators: dict[str, Any] = {}
        self.activities: dict[str, ActivityFunction] = {}
        self.entities: dict[str, Any] = {}
        for fn in functions:
            trigger = fn.get_trigger()
            kind = trigger.get_binding_name() if trigger is not None else None
            if kind == "orchestrationTrigger":
                self.orchestrators[fn.get_function_name()] = fn.get_user_function()
            elif kind == "activityTrigger":
                self.activities[fn.get_function_name()] = ActivityFunction(
                    fn.get_function_name(), trigger.name, fn.get_user_function()
                )
            elif kind == "entityTrigger":
                self.entities[fn.get_function_name()] = fn.get_user_function()
        self.clock = EngineClock()
        self.store = DurableStore(db_path, task_hub)
        self.instances: dict[str, Instance] = {}
        self.public_base_url: str | None = None
        self.system_key: str | None = None
        self._next_inbox_id = 0
        self._next_work_id = 0
        self._ready: asyncio.Queue[str] | None = None
        self._queued: set[str] = set()
        self._replaying: set[str] = set()
        self._work: asyncio.Queue[WorkItem] | None = None
        self._running_activities = 0
        self._timers: list[TimerEntry] = []
        self._armed: set[tuple[str, str, int]] = set()
        self._timer_wakeup: asyncio.Event | None = None
        self._last_busy = time.monotonic()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._thread_pool: ThreadPoolExecutor | None = None
        self._replay_pool: ThreadPoolExecutor | None = None
        self._started = False
        self._followups: list[tuple[Instance, Event]] = []
        self._worker_pool = worker_pool
        self._worker_losses: dict[int, int] = {}

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Open SQLite, recover persisted state, start the workers."""
        if self._started:
            raise RuntimeError("engine already started")
        self._ready = asyncio.Queue()
        self._work = asyncio.Queue()
        self._timer_wakeup = asyncio.Event()
        self._thread_pool = ThreadPoolExecutor(
            max_workers=self._max_activities, thread_name_prefix="durable-activity"
        )
        self._replay_pool = ThreadPoolExecutor(
            max_workers=self._max_orchestrators, thread_name_prefix="durable-replay"
        )
        if self._worker_pool is not None:
            await self._worker_pool.start()
        loaded = await asyncio.to_thread(self.store.open)
        self.store.start_writer()
        self._recover(loaded)
        self._tasks = [
            asyncio.create_task(self._orchestrator_worker(), name=f"durable-orch-{i}")
            for i in range(self._max_orchestrators)
        ]
        self._tasks += [
            asyncio.create_task(self._activity_worker(), name=f"durable-activity-{i}")
            for i in range(self._max_activities)
        ]
        self._tasks.append(asyncio.create_task(self._timer_loop(), name="durable-timers"))
        self._started = True
        logger.info(
            "durable engine started: hub %s, %d orchestrators, %d activities, %d live instances",
            self.task_hub,
            len(self.orchestrators),
            len(self.activities),
            sum(1 for i in self.instances.values() if not i.is_terminal),
        )

    def _recover(self, loaded: Any) -> None:
        for row in loaded.instances:
            instance = Instance.from_row(row, None)
            if not instance.is_terminal:
                instance.reset_history(loaded.histories.get(row.instance_id, []))
            self.instances[row.instance_id] = instance
        self._next_inbox_id = loaded.max_inbox_id
        self._next_work_id = loaded.max_work_id
        for row_id, instance_id, execution_id, event in loaded.inbox:
            instance = self.instances.get(instance_id)
            if instance is not None:
                instance.inbox.append((row_id, execution_id, event))
                self._mark_ready(instance_id)
        assert self._work is not None
        for work_id, instance_id, execution_id, task_id, name, input_text in loaded.work:
            # At-least-once: whatever was in flight when the process died runs again.
            self._work.put_nowait(
                WorkItem(work_id, instance_id, execution_id, task_id, name, input_text)
            )
        for instance_id, execution_id, timer_id, fire_at in loaded.timers:
            self._arm_timer(TimerEntry(parse_time(fire_at), instance_id, execution_id, timer_id))

    async def stop(self) -> None:
        """Stop the workers; in-flight work stays persisted for the next start."""
        if not self._started:
            return
        self._started = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._worker_pool is not None:
            await self._worker_pool.stop()
        await self.store.close()
        for pool in (self._thread_pool, self._replay_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.cancel()
        self._waiters.clear()
        logger.info("durable engine stopped: hub %s", self.task_hub)

    def router(self) -> starlette.routing.Router:
        from .http_api import build_router

        return build_router(self)

    def client_binding_json(self, public_base_url: str, system_key: str) -> str:
        self.public_base_url = public_base_url.rstrip("/")
        self.system_key = system_key
        return json.dumps(client_binding(self.public_base_url, system_key, self.task_hub))

    # ----------------------------------------------------------------- client operations

    def now_text(self) -> str:
        return format_time(self.clock.now())

    async def start_orchestration(
        self, name: str, instance_id: str | None, input_text: str | None
    ) -> str:
        """Create (or replace) an instance and queue its ExecutionStarted event."""
        if name not in self.orchestrators:
            raise UnknownOrchestratorError(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator "
                "function. Additional info: the app registers no such orchestrator."
            )
        instance_id = instance_id or uuid.uuid4().hex
        future = self._create_instance(name, instance_id, input_text, parent=None)
        await future
        return instance_id

    def _create_instance(
        self,
        name: str,
        instance_id: str,
        input_text: str | None,
        parent: tuple[str, str, int] | None,
        extra: list[Statement] | None = None,
    ) -> asyncio.Future[None]:
        now = self.now_text()
        execution_id = uuid.uuid4().hex
        old = self.instances.get(instance_id)
        instance = Instance(
            instance_id=instance_id,
            name=name,
            execution_id=execution_id,
            status="Pending",
            input=input_text,
            created_time=now,
            last_updated_time=now,
        )
        if parent is not None:
            (instance.parent_instance_id, instance.parent_execution_id, instance.parent_task_id) = (
                parent
            )
        self.instances[instance_id] = instance
        hub = self.store.hub
        statements: list[Statement] = list(extra or [])
        if old is not None:
            # Starting over an existing id replaces it, as Azure does by default.
            statements += self._purge_statements(instance_id)
        statements.append((UPSERT_INSTANCE, instance.row_params(hub)))
        parent_info = (
            {"InstanceId": parent[0], "ExecutionId": parent[1], "TaskScheduledId": parent[2]}
            if parent is not None
            else None
        )
        started = make_event(
            EventType.EXECUTION_STARTED,
            now,
            Name=name,
            Input=input_text,
            ParentInstance=parent_info,
            Version="",
            OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
        )
        return self._deliver(instance, execution_id, started, statements)

    def _purge_statements(self, instance_id: str) -> list[Statement]:
        key = (self.store.hub, instance_id)
        return [
            (f"DELETE FROM {table} WHERE hub = ? AND instance_id = ?", key)
            for table in ("instances", "history", "inbox", "activity_work", "timers")
        ]

    def get_instance(self, instance_id: str) -> Instance:
        instance = self.instances.get(instance_id)
        if instance is None:
            raise InstanceNotFoundError(f"No instance with ID '{instance_id}' found.")
        return instance

    async def instance_history(self, instance: Instance) -> list[Event]:
        if instance.history is not None:
            return list(instance.history)
        return await asyncio.to_thread(self.store.read_history, instance.instance_id)

    async def raise_event(self, instance_id: str, event_name: str, data_text: str | None) -> None:
        instance = self.get_instance(instance_id)
        if instance.is_terminal:
            raise InstanceGoneError(
                f"Instance with ID {instance_id} is gone: either completed or failed"
            )
        event = make_event(
            EventType.EVENT_RAISED, self.now_text(), Name=event_name, Input=data_text
        )
        await self._deliver(instance, None, event)

    async def terminate(self, instance_id: str, reason: str | None) -> None:
        instance = self.get_instance(instance_id)
        if instance.is_terminal:
            raise InstanceGoneError(f"Instance with ID {instance_id} is already terminal")
        event = make_event(
            EventType.EXECUTION_TERMINATED, self.now_text(), Input=json.dumps(reason)
        )
        await self._deliver(instance, None, event)

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        instance = self.get_instance(instance_id)
        if instance.is_terminal:
            raise InstanceGoneError(f"Instance with ID {instance_id} is already terminal")
        event = make_event(EventType.EXECUTION_SUSPENDED, self.now_text(), Reason=reason)
        await self._deliver(instance, None, event)

    async def resume(self, instance_id: str, reason: str | None) -> None:
        instance = self.get_instance(instance_id)
        if instance.is_terminal:
            raise InstanceGoneError(f"Instance with ID {instance_id} is already terminal")
        event = make_event(EventType.EXECUTION_RESUMED, self.now_text(), Reason=reason)
        await self._deliver(instance, None, event)

    async def purge(self, instance_ids: Sequence[str]) -> int:
        statements: list[Statement] = []
        purged = 0
        for instance_id in instance_ids:
            if self.instances.pop(instance_id, None) is not None:
                purged += 1
                statements += self._purge_statements(instance_id)
        if statements:
            await self.store.submit(statements)
        return purged

    async def wait_for_terminal(self, instance_id: str, wait_seconds: float) -> Instance:
        instance = self.get_instance(instance_id)
        if instance.is_terminal:
            return instance
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(instance_id, []).append(waiter)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter), wait_seconds)
        return self.instances.get(instance_id, instance)

    # ----------------------------------------------------------------- inbox and scheduling

    def _deliver(
        self,
        instance: Instance,
        execution_id: str | None,
        event: Event,
        extra: list[Statement] | None = None,
    ) -> asyncio.Future[None]:
        """Persist an event for an instance (with `extra` in the same commit) and wake it."""
        statements = list(extra or [])
        statements.append(self._enqueue(instance, execution_id, event))
        return self.store.submit(statements)

    def _enqueue(self, instance: Instance, execution_id: str | None, event: Event) -> Statement:
        """Add an event to an instance's inbox; the caller commits the returned statement."""
        self._next_inbox_id += 1
        row_id = self._next_inbox_id
        instance.inbox.append((row_id, execution_id, event))
        self._mark_ready(instance.instance_id)
        return (
            "INSERT INTO inbox (hub, id, instance_id, execution_id, event) VALUES (?,?,?,?,?)",
            (self.store.hub, row_id, instance.instance_id, execution_id, json.dumps(event)),
        )

    def _mark_ready(self, instance_id: str) -> None:
        self._last_busy = time.monotonic()
        if instance_id in self._queued:
            return
        self._queued.add(instance_id)
        assert self._ready is not None
        self._ready.put_nowait(instance_id)

    def _is_idle(self) -> bool:
        assert self._ready is not None and self._work is not None
        busy = (
            self._ready.qsize() or self._replaying or self._work.qsize() or self._running_activities
        )
        if busy:
            self._last_busy = time.monotonic()
            return False
        return time.monotonic() - self._last_busy >= self._time_skip_grace

    # ----------------------------------------------------------------- orchestrators

    async def _orchestrator_worker(self) -> None:
        assert self._ready is not None
        while True:
            instance_id = await self._ready.get()
            self._queued.discard(instance_id)
            if instance_id in self._replaying:
                continue  # the running episode re-queues the instance when it finishes
            instance = self.instances.get(instance_id)
            if instance is None or not instance.inbox:
                continue
            self._replaying.add(instance_id)
            try:
                await self._run_episode(instance)
            except Exception:
                logger.exception("orchestrator episode crashed: instance %s", instance_id)
            finally:
                self._replaying.discard(instance_id)
                self._last_busy = time.monotonic()
                current = self.instances.get(instance_id)
                if current is not None and current.inbox and self._runnable(current):
                    self._mark_ready(instance_id)

    def _runnable(self, instance: Instance) -> bool:
        if instance.status != "Suspended":
            return True
        return any(
            event["EventType"] in (EventType.EXECUTION_RESUMED, EventType.EXECUTION_TERMINATED)
            for _, _, event in instance.inbox
        )

    async def _run_episode(self, instance: Instance) -> None:
        if not self._runnable(instance):
            return  # suspended: the events wait in the inbox until resume or terminate
        statements: list[Statement] = []
        hub = self.store.hub
        taken, instance.inbox = instance.inbox, []
        statements += [
            ("DELETE FROM inbox WHERE hub = ? AND id = ?", (hub, row_id)) for row_id, _, _ in taken
        ]
        events = [
            event
            for _, execution_id, event in taken
            if execution_id is None or execution_id == instance.execution_id
        ]
        ready = self._prepare_events(instance, events, statements)
        if ready is None:
            self.store.submit(statements)
            return
        await self._replay(instance, ready, statements)
        self.store.submit(statements)

    def _prepare_events(
        self, instance: Instance, events: list[Event], statements: list[Statement]
    ) -> list[Event] | None:
        """The events the orchestrator should see next, or None when there is nothing to run."""
        if instance.is_terminal or instance.history is None:
            return None
        remaining = self._apply_control_events(instance, events, statements)
        if not remaining:
            return None
        if not instance.history:
            # A new execution: ExecutionStarted must open the history; anything that arrived
            # before it (events carried over by continue-as-new) follows it.
            starts = [e for e in remaining if e["EventType"] == EventType.EXECUTION_STARTED]
            if not starts:
                return None
            rest = [e for e in remaining if e["EventType"] != EventType.EXECUTION_STARTED]
            return starts[:1] + rest
        return remaining

    async def _replay(
        self, instance: Instance, events: list[Event], statements: list[Statement]
    ) -> None:
        assert instance.history is not None

        now = self.now_text()
        started = make_event(EventType.ORCHESTRATOR_STARTED, now)
        new_events = [started, *events]
        replay_history = list(instance.history)
        for event in new_events:
            event["IsPlayed"] = False
        replay_history += new_events
        handle = self.orchestrators.get(instance.name)
        execution_id = instance.execution_id
        loop = asyncio.get_running_loop()
        if handle is None:
            result = EpisodeResult(
                signature=[],
                done=True,
                error=f"The orchestrator '{instance.name}' is not registered",
            )
        else:
            try:
                result = await loop.run_in_executor(
                    self._replay_pool,
                    lambda: run_episode(
                        handle,
                        instance_id=instance.instance_id,
                        parent_instance_id=instance.parent_instance_id,
                        input_text=instance.input,
                        history=replay_history,
                        known_ids=instance.known_ids,
                        child_id_prefix=instance.instance_id,
                    ),
                )
            except Exception as exc:  # the SDK itself failed: fail the instance, loudly
                logger.exception("replay failed: instance %s", instance.instance_id)
                result = EpisodeResult(
                    signature=[], done=True, error=f"{type(exc).__name__}: {exc}"
                )
        if self.instances.get(instance.instance_id) is not instance or (
            instance.execution_id != execution_id or instance.is_terminal
        ):
            return  # purged, restarted or terminated meanwhile
        for event in new_events:
            event["IsPlayed"] = True
        self._apply_episode(instance, new_events, result, statements)

    def _apply_control_events(
        self, instance: Instance, events: list[Event], statements: list[Statement]
    ) -> list[Event] | None:
        """Handle terminate/suspend/resume; return the events left for the orchestrator."""
        remaining: list[Event] = []
        for event in events:
            kind = event["EventType"]
            if kind == EventType.EXECUTION_TERMINATED:
                reason = event.get("Input")
                assert instance.history is not None
                instance.history.append(event)
                self._finish(instance, "Terminated", reason, statements, appended=[event])
                logger.info(
                    "orchestration terminated: %s (%s)", instance.instance_id, instance.name
                )
                return None
            if kind == EventType.EXECUTION_SUSPENDED:
                instance.status = "Suspended"
                self._touch(instance, statements)
                continue
            if kind == EventType.EXECUTION_RESUMED:
                if instance.status == "Suspended":
                    instance.status = "Running"
                    self._touch(instance, statements)
                continue
            remaining.append(event)
        if instance.status == "Suspended":
            # Keep the orchestrator's events until it is resumed.
            statements += [self._enqueue(instance, None, event) for event in remaining]
            return None
        return remaining

    def _touch(self, instance: Instance, statements: list[Statement]) -> None:
        instance.last_updated_time = self.now_text()
        statements.append((UPSERT_INSTANCE, instance.row_params(self.store.hub)))

    def _apply_episode(
        self,
        instance: Instance,
        new_events: list[Event],
        result: EpisodeResult,
        statements: list[Statement],
    ) -> None:
        self._followups.clear()
        now = new_events[0]["Timestamp"]
        appended: list[Event] = list(new_events)
        error = result.error
        if error is None and result.unsupported is not None:
            error = f"{result.unsupported} is not supported by the devhost durable engine"
        if error is None:
            error = self._determinism_error(instance, result)
        if result.custom_status is not None:
            instance.custom_status = result.custom_status
        if error is not None:
            message = f"Orchestrator function '{instance.name}' failed: {error}"
            appended.append(make_event(EventType.EXECUTION_FAILED, now, Reason=message))
            self._record(instance, appended, statements)
            self._finish(instance, "Failed", json.dumps(message), statements, appended=[])
            logger.info(
                "orchestration failed: %s (%s): %s",
                instance.instance_id,
                instance.name,
                error.splitlines()[0] if error else "",
            )
            return

        for task in result.new_tasks:
            appended.append(
                self._schedule(instance, task, now, statements, dispatch=not result.done)
            )
        for timer_id in result.cancelled_timers:
            self._armed.discard((instance.instance_id, instance.execution_id, timer_id))
            statements.append(
                (
                    "DELETE FROM timers WHERE hub = ? AND instance_id = ? AND execution_id = ?"
                    " AND timer_id = ?",
                    (self.store.hub, instance.instance_id, instance.execution_id, timer_id),
                )
            )

        if result.continued_as_new:
            self._continue_as_new(instance, appended, result, statements)
            return
        if result.done:
            appended.append(
                make_event(
                    EventType.EXECUTION_COMPLETED,
                    now,
                    OrchestrationStatus="Completed",
                    Result=result.output,
                )
            )
            self._record(instance, appended, statements)
            self._finish(instance, "Completed", result.output, statements, appended=[])
            logger.info("orchestration completed: %s (%s)", instance.instance_id, instance.name)
            return
        appended.append(make_event(EventType.ORCHESTRATOR_COMPLETED, now))
        if instance.status == "Pending":
            logger.info("orchestration started: %s (%s)", instance.instance_id, instance.name)
            instance.status = "Running"
        self._record(instance, appended, statements)
        instance.last_updated_time = self.now_text()
        statements.append((UPSERT_INSTANCE, instance.row_params(self.store.hub)))
        for parent, event in self._followups:
            statements.append(self._enqueue(parent, parent.execution_id, event))
        self._followups.clear()

    def _determinism_error(self, instance: Instance, result: EpisodeResult) -> str | None:
        recorded = instance.signature
        replayed = result.signature
        for index, expected in enumerate(recorded):
            actual = replayed[index] if index < len(replayed) else None
            if actual != expected:
                now_did = (
                    f"scheduled {actual[0]} '{actual[1]}'"
                    if actual is not None
                    else "has not scheduled it"
                )
                return (
                    f"Non-Deterministic workflow detected: a previous execution of this "
                    f"orchestration scheduled {expected[0]} '{expected[1]}' as its action "
                    f"#{index}, but the current replay {now_did}. {NON_DETERMINISM_HINT}"
                )
        return None

    def _record(self, instance: Instance, events: list[Event], statements: list[Statement]) -> None:
        assert instance.history is not None
        hub = self.store.hub
        start = len(instance.history)
        for offset, event in enumerate(events):
            instance.history.append(event)
            kind = event["EventType"]
            if kind in (
                EventType.TASK_SCHEDULED,
                EventType.TIMER_CREATED,
                EventType.SUB_ORCHESTRATION_CREATED,
            ):
                instance.known_ids.add(event["EventId"])
                if not event.get(RETRY_MARK):
                    instance.signature.append(
                        (
                            {
                                EventType.TASK_SCHEDULED: "activity",
                                EventType.TIMER_CREATED: "timer",
                                EventType.SUB_ORCHESTRATION_CREATED: "suborchestration",
                            }[kind],
                            event.get("Name") or "",
                        )
                    )
            statements.append(
                (
                    "INSERT INTO history (hub, instance_id, seq, event) VALUES (?,?,?,?)",
                    (hub, instance.instance_id, start + offset, json.dumps(event)),
                )
            )

    def _schedule(
        self,
        instance: Instance,
        task: NewTask,
        now: str,
        statements: list[Statement],
        *,
        dispatch: bool,
    ) -> Event:
        hub = self.store.hub
        mark = {RETRY_MARK: True} if task.is_retry else {}
        if task.kind == "activity":
            if dispatch:
                self._next_work_id += 1
                item = WorkItem(
                    self._next_work_id,
                    instance.instance_id,
                    instance.execution_id,
                    task.task_id,
                    task.name,
                    task.input,
                )
                statements.append(
                    (
                        "INSERT INTO activity_work (hub, id, instance_id, execution_id,"
                        " task_id, name, input) VALUES (?,?,?,?,?,?,?)",
                        (
                            hub,
                            item.work_id,
                            item.instance_id,
                            item.execution_id,
                            item.task_id,
                            item.name,
                            item.input,
                        ),
                    )
                )
                assert self._work is not None
                self._work.put_nowait(item)
            return make_event(
                EventType.TASK_SCHEDULED,
                now,
                task.task_id,
                Name=task.name,
                Input=task.input,
                **mark,
            )
        if task.kind == "timer":
            fire_at = task.fire_at
            if fire_at is None:  # a retry back-off timer
                fire_at = parse_time(now) + timedelta(milliseconds=task.retry_interval_ms or 0)
            if dispatch and task.armed:
                entry = TimerEntry(
                    fire_at, instance.instance_id, instance.execution_id, task.task_id
                )
                statements.append(
                    (
                        "INSERT OR REPLACE INTO timers (hub, instance_id, execution_id, timer_id,"
                        " fire_at) VALUES (?,?,?,?,?)",
                        (
                            hub,
                            entry.instance_id,
                            entry.execution_id,
                            entry.timer_id,
                            format_time(fire_at),
                        ),
                    )
                )
                self._arm_timer(entry)
            return make_event(
                EventType.TIMER_CREATED, now, task.task_id, FireAt=format_time(fire_at), **mark
            )
        child_id = task.instance_id or f"{instance.instance_id}:{task.task_id}"
        if dispatch:
            self._start_child(instance, task, child_id, statements)
        return make_event(
            EventType.SUB_ORCHESTRATION_CREATED,
            now,
            task.task_id,
            Name=task.name,
            InstanceId=child_id,
            Input=task.input,
            **mark,
        )

    def _start_child(
        self, parent: Instance, task: NewTask, child_id: str, statements: list[Statement]
    ) -> None:
        if task.name not in self.orchestrators:
            outcome = missing_function(task.name, "an orchestrator")
            event = make_event(
                EventType.SUB_ORCHESTRATION_FAILED,
                self.now_text(),
                TaskScheduledId=task.task_id,
                Reason=outcome.reason,
                Details=outcome.details,
            )
            self._followups.append((parent, event))
            return
        # The child commits before the parent's episode; after a crash in between, the
        # parent replays, schedules the child again and the start replaces it.
        self._create_instance(
            task.name,
            child_id,
            task.input,
            parent=(parent.instance_id, parent.execution_id, task.task_id),
        )

    def _continue_as_new(
        self,
        instance: Instance,
        appended: list[Event],
        result: EpisodeResult,
        statements: list[Statement],
    ) -> None:
        assert instance.history is not None
        carried = [
            event
            for event in instance.history + appended
            if event["EventType"] == EventType.EVENT_RAISED
            and event.get("Name") in result.unconsumed_events
        ]
        hub = self.store.hub
        statements += [
            (f"DELETE FROM {table} WHERE hub = ? AND instance_id = ?", (hub, instance.instance_id))
            for table in ("history", "activity_work", "timers")
        ]
        instance.execution_id = uuid.uuid4().hex
        instance.input = result.continue_as_new_input
        instance.output = None
        instance.reset_history([])
        instance.last_updated_time = self.now_text()
        statements.append((UPSERT_INSTANCE, instance.row_params(hub)))
        now = self.now_text()
        started = make_event(
            EventType.EXECUTION_STARTED, now, Name=instance.name, Input=instance.input, Version=""
        )
        logger.info("orchestration continued as new: %s (%s)", instance.instance_id, instance.name)
        statements.append(self._enqueue(instance, instance.execution_id, started))
        for event in carried:
            clean = {key: value for key, value in event.items() if key != "IsPlayed"}
            statements.append(self._enqueue(instance, None, clean))

    def _finish(
        self,
        instance: Instance,
        status: str,
        output: str | None,
        statements: list[Statement],
        *,
        appended: list[Event],
    ) -> None:
        hub = self.store.hub
        if appended:
            assert instance.history is not None
            start = len(instance.history) - len(appended)
            statements += [
                (
                    "INSERT INTO history (hub, instance_id, seq, event) VALUES (?,?,?,?)",
                    (hub, instance.instance_id, start + offset, json.dumps(event)),
                )
                for offset, event in enumerate(appended)
            ]
        instance.status = status
        instance.output = output
        instance.last_updated_time = self.now_text()
        statements.append((UPSERT_INSTANCE, instance.row_params(hub)))
        statements += [
            (f"DELETE FROM {table} WHERE hub = ? AND instance_id = ?", (hub, instance.instance_id))
            for table in ("activity_work", "timers")
        ]
        parent = (
            self.instances.get(instance.parent_instance_id) if instance.parent_instance_id else None
        )
        if parent is not None and not parent.is_terminal:
            if status == "Completed":
                event = make_event(
                    EventType.SUB_ORCHESTRATION_COMPLETED,
                    self.now_text(),
                    TaskScheduledId=instance.parent_task_id,
                    Result=output,
                )
            else:
                reason = json.loads(output) if output else status
                event = make_event(
                    EventType.SUB_ORCHESTRATION_FAILED,
                    self.now_text(),
                    TaskScheduledId=instance.parent_task_id,
                    Reason=f"Sub-orchestration '{instance.name}' "
                    f"({instance.instance_id}) {status.lower()}: {reason}",
                    Details="",
                )
            statements.append(self._enqueue(parent, instance.parent_execution_id, event))
        for waiter in self._waiters.pop(instance.instance_id, []):
            if not waiter.done():
                waiter.set_result(None)

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
                logger.debug(
                    "activity started: %s task %d of %s", item.name, item.task_id, item.instance_id
                )
                if activity is None:
                    outcome = missing_function(item.name, "an activity")
                elif self._worker_pool is not None:
                    try:
                        outcome = await self._worker_pool.invoke(item.name, item.input)
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
                    outcome = await invoke_activity(activity, item.input, self._thread_pool)
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
