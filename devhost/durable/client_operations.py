"""What the durable client API asks of the engine: start, query, signal and purge instances."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Sequence

from devhost.trace_context import InvocationTrace

from .engine_state import EngineState
from .history import Event, EventType, make_event
from .instances import UPSERT_INSTANCE, Instance
from .store import Statement


class UnknownOrchestratorError(ValueError):
    """A start request named a function that is not an orchestrator of this app."""


class InstanceNotFoundError(LookupError):
    """No instance with that id exists in this task hub."""


class InstanceGoneError(RuntimeError):
    """The instance has already reached a terminal state."""


class ClientOperations(EngineState):
    """Instance lifecycle as the client sees it; every change is an event in the inbox."""

    async def start_orchestration(
        self,
        name: str,
        instance_id: str | None,
        input_text: str | None,
        trace: InvocationTrace | None = None,
        version: str | None = None,
    ) -> str:
        """Create (or replace) an instance and queue its ExecutionStarted event; `trace` is the
        starter's trace context, which the instance's activities are invoked in; `version` the
        one the starter asked for (host.json's defaultVersion otherwise)."""
        if name not in self.orchestrators:
            raise UnknownOrchestratorError(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator "
                "function. Additional info: the app registers no such orchestrator."
            )
        instance_id = instance_id or uuid.uuid4().hex
        future = self._create_instance(
            name,
            instance_id,
            input_text,
            parent=None,
            trace=trace,
            version=self.versioning.version_for_new(version),
        )
        await future
        return instance_id

    def _create_instance(
        self,
        name: str,
        instance_id: str,
        input_text: str | None,
        parent: tuple[str, str, int] | None,
        extra: list[Statement] | None = None,
        trace: InvocationTrace | None = None,
        version: str | None = None,
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
            trace=trace,
            version=version,
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
            OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
            ParentTraceContext=trace.to_event() if trace else None,
        )
        started["Version"] = version  # always present: the SDK reads it for context.version
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
