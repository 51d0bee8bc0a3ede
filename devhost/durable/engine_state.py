"""The durable engine's shared in-memory state, and the inbox every state change goes through.

Every other part of the engine (client operations, orchestration steps, activity and timer
dispatch) builds on `EngineState`: an event for an instance is persisted with the statements that
caused it (one group commit) and the instance is queued for its next orchestration step.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from azure.functions.decorators.function_app import Function

from devhost.invoke import unsupplied_reason

from .activities import ActivityFunction
from .binding import DurableUrls
from .clock import EngineClock, format_time
from .durable_http import DurableHttp
from .history import Event
from .instances import Instance
from .store import DurableStore, Statement
from .versioning import VersioningPolicy
from .worker_pool import ActivityWorkerPool

DURABLE_RUNS = frozenset({"orchestrationTrigger", "activityTrigger"})


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


class EngineState:
    """Function registries, live instances, work queues and the inbox of one task hub."""

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
        function_directory: str = "",
        versioning: VersioningPolicy | None = None,
        http_poll_interval_ms: int = 30_000,
    ) -> None:
        if max_concurrent_activities < 1 or max_concurrent_orchestrators < 1:
            raise ValueError("concurrency limits must be at least 1")
        self.task_hub = task_hub
        self.function_directory = function_directory  # the app's, as activities' context shows
        self.versioning = versioning or VersioningPolicy()
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
                # The binding's entityName, when set, names the entity (as in the Functions host).
                entity_name = getattr(trigger, "entity_name", None) or fn.get_function_name()
                self.entities[entity_name] = fn.get_user_function()
        # Durable functions declaring a binding devhost does not supply: they fail with why.
        self.unservable: dict[str, str] = {}
        for fn in functions:
            trigger = fn.get_trigger()
            if trigger is None or trigger.get_binding_name() not in DURABLE_RUNS:
                continue
            reason = unsupplied_reason(fn)
            if reason is not None:
                self.unservable[fn.get_function_name()] = reason
        self.clock = EngineClock()
        self._durable_http = DurableHttp(
            self.clock, time_skipping=time_skipping, poll_interval_ms=http_poll_interval_ms
        )
        self.store = DurableStore(db_path, task_hub)
        self.instances: dict[str, Instance] = {}
        self.urls: DurableUrls | None = None
        self._client_binding_json = ""
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
        self._version_warned: set[str] = set()  # instances whose version this host rejects

    def published_urls(self) -> DurableUrls:
        if self.urls is None:
            raise RuntimeError("the engine's URLs are not published yet (DurableEngine.publish)")
        return self.urls

    def now_text(self) -> str:
        return format_time(self.clock.now())

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
