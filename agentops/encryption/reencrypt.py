"""Re-encryption: move every sealed text to the ring's active key, so retired keys can go.

Run it after changing the active key (`python -m agentops reencrypt`, or on a schedule). It visits
the runs and threads of sensitive agents, and rewrites each text that is not sealed with the
active key: sealed with an older one, or plain because it was written before its agent became
sensitive. Each value is written on its own with a compare-and-swap, so the job is

- idempotent: a value already under the active key is left alone (a second pass rewrites nothing);
- resumable: stopped half-way, the next pass picks up what is left;
- safe beside live traffic: a value that changed since it was read is read again, never
  overwritten (a batch completing an item, a conversation going on).

Once a pass reports no failures, keys other than the active one can be removed from the ring.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection
from dataclasses import asdict, dataclass

from agentops.encryption.keyring import DecryptionError
from agentops.encryption.records import RecordSealer, item_context, message_context
from agentops.store.errors import ConcurrencyError
from agentops.store.ports import Store
from agentops.store.records import ITEM_TEXT_FIELDS, Item, Run, Thread

logger = logging.getLogger(__name__)

_PAGE = 500
_MAX_ROUNDS = 8  # re-reads of one value that keeps changing before it is left for the next pass


@dataclass(slots=True)
class ReencryptReport:
    runs: int = 0  # runs of sensitive agents visited
    items: int = 0
    threads: int = 0  # threads of sensitive agents visited
    rewritten: int = 0  # texts moved to the active key (or sealed for the first time)
    current: int = 0  # texts already under the active key
    retried: int = 0  # texts that changed while being rewritten, and were read again
    failed: int = 0  # texts that could not be opened, or kept changing; see the log

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Reencryption:
    def __init__(
        self, store: Store, sealer: RecordSealer, *, sensitive_agents: Collection[str]
    ) -> None:
        if sealer.ring is None:
            raise ValueError("re-encryption needs a key ring")
        self._store = store
        self._sealer = sealer
        self._sensitive = frozenset(sensitive_agents)

    async def run(self) -> ReencryptReport:
        report = ReencryptReport()
        # Collected first: rewriting while scanning could move rows under the scan.
        runs = [
            run async for run in _runs(self._store) if run.encrypted or run.agent in self._sensitive
        ]
        for run in runs:
            await self._run(run, report)
        threads = [
            thread
            async for thread in _threads(self._store)
            if thread.encrypted or thread.owner.agent in self._sensitive
        ]
        for thread in threads:
            await self._thread(thread, report)
        logger.info("re-encryption done: %s", report.as_dict())
        return report

    async def _run(self, run: Run, report: ReencryptReport) -> None:
        report.runs += 1
        if not run.encrypted:
            # Marked first, so readers open its texts from now on (plain ones read as they are).
            await self._store.update_run(run.run_id, encrypted=True)
        after: int | None = None
        while True:
            items, after = await self._store.list_items(run.run_id, after_index=after, limit=_PAGE)
            for item in items:
                report.items += 1
                for field in ITEM_TEXT_FIELDS:
                    await self._item_text(run, item, field, report)
            if after is None:
                return

    async def _item_text(self, run: Run, item: Item, field: str, report: ReencryptReport) -> None:
        context = item_context(run.tenant_id, run.run_id, item.index, field)
        for _ in range(_MAX_ROUNDS):
            value: str | None = getattr(item, field)
            if value is None:
                return
            try:
                new = self._sealer.reseal(value, context)
            except DecryptionError as error:
                report.failed += 1
                logger.error("re-encryption: %s", error)
                return
            if new is None:
                report.current += 1
                return
            if await self._store.swap_item_text(run.run_id, item.index, field, value, new):
                report.rewritten += 1
                return
            report.retried += 1
            [item] = await self._store.get_items(run.run_id, [item.index])
        report.failed += 1
        logger.error("re-encryption: %s kept changing; left for the next pass", "/".join(context))

    async def _thread(self, thread: Thread, report: ReencryptReport) -> None:
        report.threads += 1
        for _ in range(_MAX_ROUNDS):
            texts: list[str] = []
            rewritten = 0
            try:
                for message in thread.messages:
                    context = message_context(thread.tenant_id, thread.thread_id, message)
                    new = self._sealer.reseal(message.text, context)
                    texts.append(message.text if new is None else new)
                    rewritten += new is not None
            except DecryptionError as error:
                report.failed += 1
                logger.error("re-encryption: %s", error)
                return
            if rewritten == 0 and thread.encrypted:
                report.current += len(texts)
                return
            try:
                await self._store.replace_message_texts(
                    thread.thread_id, texts, expected_version=thread.version
                )
            except ConcurrencyError:
                report.retried += 1
                fresh = await self._store.get_thread(thread.thread_id)
                if fresh is None:
                    return
                thread = fresh
                continue
            report.rewritten += rewritten
            report.current += len(texts) - rewritten
            return
        report.failed += 1
        logger.error(
            "re-encryption: thread %s kept changing; left for the next pass", thread.thread_id
        )


async def _runs(store: Store) -> AsyncIterator[Run]:
    async for doc in store.iter_collection("runs"):
        yield Run.from_doc(doc)


async def _threads(store: Store) -> AsyncIterator[Thread]:
    async for doc in store.iter_collection("threads"):
        yield Thread.from_doc(doc)
