"""Durable entities: operations queued per entity, run in batches, state in the task hub.

Orchestrators signal and call entities (`context.signal_entity`, `context.call_entity`); clients
signal them and read their state (the SDK client, or the entity HTTP API). Each entity runs one
batch at a time through the SDK's entity executor (`entity_batch`), so operations on one entity
never interleave, and a batch commits its state with the removal of its operations (`entity_store`).

An orchestrator's message to an entity is recorded in its history as an EventSent event, whose
Input is the request (the SDK reads the request id from it); the response to a call comes back as
an EventRaised event named after that id, with `{"result": ...}` (and `exceptionType` on failure).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from . import entity_store
from .engine_state import EngineState
from .entity_batch import BatchOutcome, failed_batch, run_batch
from .entity_store import EntityRecord, Request, scheduler_id
from .history import Event, EventType, make_event
from .instances import Instance
from .replay import EntitySend, EpisodeResult
from .store import Statement

logger = logging.getLogger(__name__)

# Operations handed to the entity function at once (the Functions host's default batch size on
# Consumption plans); a longer queue runs as several batches, one after the other.
MAX_BATCH = 50
ENTITY_WORKERS = 2

LOCK_UNSUPPORTED = (
    "entity locking (critical sections, context.lock) is not available in the Durable Functions "
    "Python SDK, which has no lock API for orchestrators; serialise the work through an entity "
    "operation instead"
)


class UnknownEntityError(LookupError):
    """The app has no entity function of that name."""


def explain_orchestrator_error(error: str) -> str:
    """Name the missing feature when an orchestrator reached for entity locking."""
    prefix = "'DurableOrchestrationContext' object has no attribute"
    if any(f"{prefix} '{name}'" in error for name in ("lock", "is_locked")):
        return f"{error} ({LOCK_UNSUPPORTED})"
    return error


def recorded_sends(history: list[Event]) -> list[tuple[str, str]]:
    """(entity instance id, operation) of every entity message already in the history."""
    sends = []
    for event in history:
        if event["EventType"] == EventType.EVENT_SENT:
            sends.append((event.get("InstanceId") or "", json.loads(event["Input"])["op"]))
    return sends


class EntityDispatch(EngineState):
    """The entity half of the engine, beside the orchestration parts."""

    # ----------------------------------------------------------------- lifecycle

    async def _start_entities(self) -> list[asyncio.Task[None]]:
        """Load entities and their pending operations; start the entity workers."""
        self.entity_functions = {name.lower(): fn for name, fn in self.entities.items()}
        self.entity_records: dict[str, EntityRecord] = {}
        self._entity_ready: asyncio.Queue[str] = asyncio.Queue()
        self._entity_queued: set[str] = set()
        self._entity_running: set[str] = set()
        self._entity_pool = ThreadPoolExecutor(
            max_workers=ENTITY_WORKERS, thread_name_prefix="durable-entity"
        )
        loaded = await asyncio.to_thread(entity_store.load, self.store.path, self.store.hub)
        self.entity_records = loaded.records
        self._next_entity_row = loaded.max_queue_id
        for record in self.entity_records.values():
            if record.queue:  # at-least-once: operations not committed as done run again
                self._mark_entity_ready(record.entity_id)
        return [
            asyncio.create_task(self._entity_worker(), name=f"durable-entity-{i}")
            for i in range(ENTITY_WORKERS)
        ]

    def _stop_entities(self) -> None:
        pool = getattr(self, "_entity_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _is_idle(self) -> bool:
        # Time skipping waits for entity work too: a timer must not jump ahead of an operation.
        if self._entity_ready.qsize() or self._entity_running:
            self._last_busy = time.monotonic()
            return False
        return super()._is_idle()

    # ----------------------------------------------------------------- queueing

    def entity_function_exists(self, name: str) -> bool:
        return name.lower() in self.entity_functions

    def _record_for(self, entity_id: str) -> EntityRecord:
        record = self.entity_records.get(entity_id)
        if record is None:
            name, key = entity_store.split_scheduler_id(entity_id)
            record = self.entity_records[entity_id] = EntityRecord(entity_id, name, key)
        return record

    def _queue_request(self, entity_id: str, request: Request) -> Statement:
        """Add an operation to an entity's queue; the caller commits the returned statement."""
        self._next_entity_row += 1
        row_id = self._next_entity_row
        self._record_for(entity_id).queue.append((row_id, request))
        self._mark_entity_ready(entity_id)
        return entity_store.enqueue_statement(self.store.hub, row_id, entity_id, request)

    def _mark_entity_ready(self, entity_id: str) -> None:
        self._last_busy = time.monotonic()
        if entity_id in self._entity_queued:
            return
        self._entity_queued.add(entity_id)
        self._entity_ready.put_nowait(entity_id)

    async def signal_entity(
        self, name: str, key: str, operation: str, input_text: str | None
    ) -> None:
        """A client's signal: persisted before this returns, run later."""
        if not self.entity_function_exists(name):
            raise UnknownEntityError(f"No entity function named '{name}' exists in this app.")
        request: Request = {
            "id": uuid.uuid4().hex,
            "op": operation,
            "signal": True,
            "input": input_text,
        }
        await self.store.submit([self._queue_request(scheduler_id(name, key), request)])

    def entity_state(self, name: str, key: str) -> EntityRecord | None:
        """The entity as last committed by a batch, or None when it does not exist."""
        record = self.entity_records.get(scheduler_id(name, key))
        return record if record is not None and record.exists else None

    # ----------------------------------------------------------------- orchestrators

    def _entity_determinism_error(self, instance: Instance, result: EpisodeResult) -> str | None:
        assert instance.history is not None
        recorded = recorded_sends(instance.history)
        replayed = [(send.target, send.operation) for send in result.entity_sends]
        for index, expected in enumerate(recorded):
            actual = replayed[index] if index < len(replayed) else None
            if actual != expected:
                now_did = (
                    f"sent '{actual[1]}' to entity '{actual[0]}'" if actual else "has not sent it"
                )
                return (
                    "Non-Deterministic workflow detected: a previous execution of this "
                    f"orchestration sent operation '{expected[1]}' to entity '{expected[0]}' as "
                    f"its entity message #{index}, but the current replay {now_did}."
                )
        return None

    def _send_to_entities(
        self,
        instance: Instance,
        result: EpisodeResult,
        now: str,
        statements: list[Statement],
    ) -> list[Event]:
        """Queue the episode's new entity messages; return their EventSent events.

        Signals go out even when the orchestration ends in this episode (fire and forget); a call
        it can no longer wait for is not sent.
        """
        assert instance.history is not None
        already = len(recorded_sends(instance.history))
        events: list[Event] = []
        for send in result.entity_sends[already:]:
            if send.kind == "call" and (result.done or result.continued_as_new):
                continue
            events.append(self._send_one(instance, send, now, statements))
        return events

    def _send_one(
        self, instance: Instance, send: EntitySend, now: str, statements: list[Statement]
    ) -> Event:
        request: Request = {
            "id": uuid.uuid4().hex,
            "op": send.operation,
            "signal": send.kind == "signal",
            "input": send.input,
        }
        if send.kind == "call":
            request["parent"] = instance.instance_id
            request["parentExecution"] = instance.execution_id
        name, _ = entity_store.split_scheduler_id(send.target)
        if self.entity_function_exists(name):
            statements.append(self._queue_request(send.target, request))
        elif send.kind == "call":
            message = f"No entity function named '{name}' exists in this app."
            self._followups.append((instance, _response_event(now, request, message, True)))
        else:
            logger.warning(
                "signal to entity %s dropped: the app has no entity function '%s'",
                send.target,
                name,
            )
        return make_event(
            EventType.EVENT_SENT,
            now,
            send.task_id if send.task_id is not None else -1,
            InstanceId=send.target,
            Name="op",
            Input=json.dumps(request),
        )

    # ----------------------------------------------------------------- batches

    async def _entity_worker(self) -> None:
        while True:
            entity_id = await self._entity_ready.get()
            self._entity_queued.discard(entity_id)
            record = self.entity_records.get(entity_id)
            if record is None or not record.queue or entity_id in self._entity_running:
                continue
            self._entity_running.add(entity_id)
            try:
                await self._run_entity_batch(record)
            except Exception:
                logger.exception("entity batch crashed: %s", entity_id)
            finally:
                self._entity_running.discard(entity_id)
                self._last_busy = time.monotonic()
                if record.queue:
                    self._mark_entity_ready(entity_id)

    async def _run_entity_batch(self, record: EntityRecord) -> None:
        taken = record.queue[:MAX_BATCH]
        requests = [request for _, request in taken]
        handle = self.entity_functions.get(record.name)
        outcome: BatchOutcome
        if handle is None:
            message = f"No entity function named '{record.name}' exists in this app."
            outcome = failed_batch(record, requests, message)
        else:
            loop = asyncio.get_running_loop()
            try:
                outcome = await loop.run_in_executor(
                    self._entity_pool, run_batch, handle, record, requests
                )
            except Exception as exc:  # the executor itself failed: fail the batch, keep state
                logger.exception("entity function %s failed: %s", record.name, record.entity_id)
                outcome = failed_batch(record, requests, f"{type(exc).__name__}: {exc}")
        now = self.now_text()
        statements: list[Statement] = []
        for request, result in zip(requests, outcome.results, strict=True):
            if request.get("signal"):
                if result.is_error:
                    logger.warning(
                        "entity %s: signalled operation '%s' failed: %s",
                        record.entity_id,
                        request["op"],
                        result.result,
                    )
                continue
            parent = self.instances.get(request.get("parent") or "")
            if parent is None or parent.is_terminal:
                continue
            if parent.execution_id != request.get("parentExecution"):
                continue
            event = _response_event(now, request, result.result, result.is_error, raw=True)
            statements.append(self._enqueue(parent, parent.execution_id, event))
        del record.queue[: len(taken)]
        record.exists = outcome.exists
        record.state = outcome.state
        record.last_operation_time = now
        statements[:0] = entity_store.batch_statements(
            self.store.hub, record, [row_id for row_id, _ in taken]
        )
        self.store.submit(statements)


def _response_event(
    now: str, request: Request, result: str, is_error: bool, *, raw: bool = False
) -> Event:
    """The EventRaised that answers a call; `result` is JSON text when `raw`, else a message."""
    payload: dict[str, str] = {"result": result if raw else json.dumps(result)}
    if is_error:
        payload["exceptionType"] = "EntityOperationFailed"
    return make_event(EventType.EVENT_RAISED, now, Name=request["id"], Input=json.dumps(payload))
