"""Audit entries written off the request path: a request only queues its entry.

One writer per process. Its task wakes when an entry arrives and appends everything that has
queued up meanwhile, grouped by tenant chain (one head read per chain per batch), so batches grow
with load on their own (group commit) and an entry waits about one store round trip when the
process is idle. Order within a chain is the order in which requests queued their entries.

The queue is bounded. When it is full, a request waits briefly for room (back-pressure); if
there is still none, the request writes the whole backlog and its own entry itself, in order,
under the writer's lock, so nothing is dropped and the chain keeps its order. When the store
fails, the batch goes back to the head of the queue and is retried with a growing pause; the
queue then fills and requests take the synchronous path, which fails loudly.

`aclose` writes what is queued. What a process killed without `aclose` still had queued (at
most one store round trip's worth when the store is healthy) is lost, and counted nowhere: the
price of keeping the store out of the request path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable

from agentops.audit import AuditEvent, AuditTrail
from agentops.store.records import AuditEntry

logger = logging.getLogger(__name__)


class AuditWriter:
    def __init__(
        self,
        trail: AuditTrail,
        *,
        max_queued: int = 10_000,
        batch_size: int = 500,
        room_wait_s: float = 0.05,
        retry_base_s: float = 0.2,
        retry_max_s: float = 5.0,
    ) -> None:
        if max_queued < 1 or batch_size < 1:
            raise ValueError("max_queued and batch_size must be >= 1")
        self.trail = trail
        self._max_queued = max_queued
        self._batch_size = batch_size
        self._room_wait_s = room_wait_s
        self._retry_base_s = retry_base_s
        self._retry_max_s = retry_max_s
        self._queue: deque[AuditEvent] = deque()
        self._lock = asyncio.Lock()  # one batch at a time: chain order is queue order
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.written = 0
        self.written_inline = 0  # entries a request had to write itself (queue full)

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def submit(self, event: AuditEvent) -> None:
        """Queue `event` for the background task; with the queue full, wait briefly for room,
        then write it (and the backlog before it) in the request."""
        if self._closed:
            raise RuntimeError("the audit writer is closed")
        self._ensure_task()
        if len(self._queue) >= self._max_queued:
            self._room.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), self._room_wait_s)
        if len(self._queue) < self._max_queued:
            self._queue.append(event)
            self._arrived.set()
            return
        logger.warning("audit queue full (%d entries): writing in the request", self.queued)
        async with self._lock:
            backlog = [*self._queue, event]
            self._queue.clear()
            try:
                await self._write(backlog)
            except _Unwritten as unwritten:
                self._requeue(unwritten.events)
                raise unwritten.error from None
            self.written_inline += len(backlog)

    async def flush(self) -> None:
        """Write everything queued so far (store errors propagate)."""
        async with self._lock:
            while self._queue:
                batch = self._take()
                try:
                    await self._write(batch)
                except _Unwritten as unwritten:
                    self._requeue(unwritten.events)
                    raise unwritten.error from None

    async def aclose(self) -> None:
        """Stop the task and write what is queued; entries that cannot be written are logged
        as lost, with their count."""
        self._closed = True
        try:
            await self.flush()
        except Exception:
            logger.exception("audit: %d entries could not be written at shutdown", self.queued)
            raise
        finally:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
                self._task = None

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            if self._task is not None and not self._task.cancelled() and self._task.exception():
                logger.error("audit writer stopped: %r; restarting", self._task.exception())
            self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")

    async def _run(self) -> None:
        failures = 0
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._queue:
                async with self._lock:
                    batch = self._take()
                    try:
                        await self._write(batch)
                    except _Unwritten as unwritten:
                        self._requeue(unwritten.events)
                        if isinstance(unwritten.error, asyncio.CancelledError):
                            raise unwritten.error from None
                        failures += 1
                        pause = min(self._retry_max_s, self._retry_base_s * 2 ** (failures - 1))
                        logger.exception(
                            "audit: %d entries not written yet; retrying in %.1f s",
                            self.queued,
                            pause,
                        )
                    else:
                        failures = 0
                        pause = 0.0
                self._room.set()
                if pause:
                    await asyncio.sleep(pause)

    def _take(self) -> list[AuditEvent]:
        count = min(self._batch_size, len(self._queue))
        return [self._queue.popleft() for _ in range(count)]

    def _requeue(self, events: Iterable[AuditEvent]) -> None:
        self._queue.extendleft(reversed(list(events)))

    async def _write(self, events: list[AuditEvent]) -> None:
        """Append `events` chain by chain. On failure, raises `_Unwritten` with the events not
        stored, in their order, so that none is written twice or skipped."""
        chains: dict[str, list[AuditEvent]] = {}
        for event in events:
            chains.setdefault(event.tenant, []).append(event)
        stored: set[str] = set()
        try:
            for tenant, chain in chains.items():
                progress: list[AuditEntry] = []
                try:
                    await self.trail.append(tenant, chain, written=progress)
                except ValueError:
                    # A tenant id the store refuses: the edge lets none through, so this is a
                    # bug of ours, and retrying cannot help. The log keeps ids and actions.
                    logger.error(
                        "audit: %d entries of an unusable tenant id not written: %s",
                        len(chain),
                        [(e.id, e.action, e.outcome) for e in chain],
                    )
                    stored.update(e.id for e in chain)
                finally:
                    stored.update(entry.id for entry in progress)
                    self.written += len(progress)
        except BaseException as error:  # cancellation too: what was taken goes back
            raise _Unwritten([e for e in events if e.id not in stored], error) from error


class _Unwritten(Exception):
    def __init__(self, events: list[AuditEvent], error: BaseException) -> None:
        super().__init__(f"{len(events)} audit entries not written")
        self.events = events
        self.error = error
