"""The durable engine: orchestrator replays, activity workers, durable timers, all persisted.

The parts live in their own modules: `engine_state` (state and inbox), `client_operations`,
`orchestration_step` (replay of one episode), `orchestration_actions` (actions into work) and
`dispatch` (activities and timers). This module starts, recovers and stops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import starlette.routing

from .binding import DurableUrls
from .client_operations import InstanceGoneError, InstanceNotFoundError, UnknownOrchestratorError
from .clock import parse_time
from .engine_state import TimerEntry, WorkItem
from .instances import Instance
from .orchestration_step import OrchestrationStep

__all__ = [
    "DurableEngine",
    "InstanceGoneError",
    "InstanceNotFoundError",
    "UnknownOrchestratorError",
]

logger = logging.getLogger(__name__)


class DurableEngine(OrchestrationStep):
    """Runs the durable functions of one app against one SQLite task hub."""

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
        self._tasks += await self._start_entities()
        self._tasks.append(asyncio.create_task(self._timer_loop(), name="durable-timers"))
        self._started = True
        logger.info(
            "durable engine started: hub %s, %d orchestrators, %d activities, %d entities,"
            " %d live instances",
            self.task_hub,
            len(self.orchestrators),
            len(self.activities),
            len(self.entities),
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
        await self._durable_http.aclose()
        await self.store.close()
        for pool in (self._thread_pool, self._replay_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        self._stop_entities()
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.cancel()
        self._waiters.clear()
        logger.info("durable engine stopped: hub %s", self.task_hub)

    def router(self) -> starlette.routing.Router:
        from .http_api import build_router

        return build_router(self)

    def publish(self, urls: DurableUrls) -> None:
        """Fix where the Durable APIs are reached; management URLs are built from this alone."""
        self.urls = urls
        # Every invocation with a durable client gets this text: built once, not per request.
        self._client_binding_json = json.dumps(urls.client_binding(self.task_hub))

    def client_binding_json(self) -> str:
        self.published_urls()  # says why when nothing is published yet
        return self._client_binding_json
