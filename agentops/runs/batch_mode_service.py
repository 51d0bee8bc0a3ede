"""The activities' work in a batch-mode run: submit a round, poll its batches, collect them.

A round takes the run's items still under way. For each, ``BatchRounds`` replays the answers its
earlier batches gave through the agent's own loop: an item whose loop ends is recorded (answer,
usage, cost at the batch price) or failed as the interactive path would fail it; the others give
the request that goes into this round's batch files. Files are split within the provider's
limits, and each is uploaded and made a batch under a label of run, round and file number, so a
re-executed activity finds them instead of making them twice.

Collecting reads each finished batch's output and error files. An answered item keeps its answer
in the round's history blob (JSON: index -> the chat completions so far) and goes into the next
round, which records it or sends its tool results; a failed or expired line spends one of the
item's attempts and goes again until its budget is spent, then fails with its reason; when the
run allows it (``fallback``), such an item goes to the interactive path instead, on that path's
own retry budget.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

from agentops.agents.batch_rounds import Answered, BatchRounds, NextRequest
from agentops.blobs import BlobNotFoundError, BlobStore
from agentops.model.batch_api import BatchApi
from agentops.model.batch_files import (
    FileLimits,
    LineResult,
    input_line,
    parse_results,
    split_files,
)
from agentops.model.pricing import PriceTable
from agentops.model.types import ModelError, ModelRequest
from agentops.runs.contracts import (
    QUEUED,
    CollectWork,
    PollReport,
    PollWork,
    ProviderBatch,
    RoundPlan,
    RoundReport,
    RoundWork,
    StartReport,
    StartWork,
)
from agentops.runs.ports import AgentLookup, RunStore
from agentops.store.records import NO_USAGE, Item, ItemError, ItemOutcome, ItemStatus

logger = logging.getLogger(__name__)

History = dict[int, list[dict[str, Any]]]


def batch_label(run_id: str, round_: int, file: int) -> str:
    return f"{run_id}-r{round_}-f{file}"


def estimated_tokens(content: bytes) -> int:
    """Prompt tokens a batch file enqueues: about four bytes of JSON a token, rounded up."""
    return -(-len(content) // 4)


def fits(enqueued: int, tokens: int, limit: int | None) -> bool:
    """Whether a batch of ``tokens`` may start beside ``enqueued``; alone, it always may."""
    return limit is None or enqueued == 0 or enqueued + tokens <= limit


class BatchModeService:
    def __init__(
        self,
        store: RunStore,
        agents: AgentLookup,
        rounds: BatchRounds,
        api: BatchApi,
        prices: PriceTable,
        blobs: BlobStore,
        *,
        container: str,
        limits: FileLimits | None = None,
        concurrency: int = 32,
        enqueued_tokens: Mapping[str, int] | None = None,
    ) -> None:
        self._enqueued_tokens = dict(enqueued_tokens or {})
        self._store = store
        self._agents = agents
        self._rounds = rounds
        self._api = api
        self._prices = prices
        self._blobs = blobs
        self._container = container
        self._limits = limits or FileLimits()
        self._concurrency = concurrency

    async def submit(self, work: RoundWork) -> RoundPlan:
        run = await self._store.get_run(work.run_id)
        if run is None or run.tenant_id != work.tenant:
            raise LookupError(f"run {work.run_id} of tenant {work.tenant} does not exist")
        if run.encrypted:
            raise ValueError("batch mode does not take sensitive agents' runs")
        found = await self._store.get_items(work.run_id, work.indexes)
        items = [item for item in found if _pending(item)]
        history = await self._history(work.history)
        limit = asyncio.Semaphore(self._concurrency)

        async def step(item: Item) -> tuple[Item, ModelRequest, Any]:
            request = self._rounds.batch_request(
                self._agents.request_for(work.agent, work.tenant, item.query)
            )
            async with limit:
                try:
                    return (
                        item,
                        request,
                        await self._rounds.step(request, history.get(item.index, [])),
                    )
                except ModelError as error:
                    return item, request, error

        # Every item of a round is pending when the round starts: one already settled was
        # settled by an earlier execution of this same activity, and counts as it did then.
        completed = sum(1 for item in found if item.status == ItemStatus.COMPLETED)
        failed = sum(1 for item in found if item.status == ItemStatus.FAILED)
        lines: list[tuple[int, bytes]] = []
        for item, request, outcome in await asyncio.gather(*(step(i) for i in items)):
            match outcome:
                case NextRequest(body=body):
                    lines.append((item.index, input_line(item.index, body, url=self._api.line_url)))
                case Answered(answer=answer):
                    cost = self._prices.cost(
                        answer.usage, request.deployment, answer.model, batch=True
                    )
                    done = ItemOutcome.completed(
                        answer.text, usage=answer.usage, cost=cost, model=answer.model
                    )
                    await self._store.complete_item(work.run_id, item.index, done)
                    completed += 1
                case ModelError() as error:
                    cost = self._prices.cost(error.usage, request.deployment, batch=True)
                    await self._fail(
                        work.run_id, item.index, "permanent", error.reason, error, cost
                    )
                    failed += 1
        split = split_files(lines, self._limits)
        for index in split.too_large:
            await self._fail(work.run_id, index, "permanent", "request larger than a batch file")
            failed += 1
        limit = self._enqueued_limit(work.agent)
        batches: list[ProviderBatch] = []
        enqueued = 0
        for number, file in enumerate(split.files):
            label = batch_label(work.run_id, work.round, number)
            queued = ProviderBatch(
                label=label,
                batch_id="",
                status=QUEUED,
                indexes=list(file.indexes),
                file_id=await self._api.upload(label, file.content),
                tokens=estimated_tokens(file.content),
            )
            if fits(enqueued, queued.tokens, limit):
                queued = await self._create(queued)
                enqueued += queued.tokens
            batches.append(queued)
        logger.info(
            "run %s round %d: %d completed, %d failed, %d in %d batches",
            work.run_id,
            work.round,
            completed,
            failed,
            len(lines) - len(split.too_large),
            len(batches),
        )
        return RoundPlan(completed=completed, failed=failed, batches=batches, enqueued_limit=limit)

    async def start(self, work: StartWork) -> StartReport:
        """Create the batches of files that waited for room under the enqueued-token limit."""
        return StartReport(batches=[await self._create(batch) for batch in work.batches])

    async def _create(self, batch: ProviderBatch) -> ProviderBatch:
        if batch.file_id is None:
            raise ValueError(f"batch {batch.label} has no uploaded file")
        state = await self._api.create(batch.label, batch.file_id)
        return batch.model_copy(update={"batch_id": state.batch_id, "status": state.status})

    def _enqueued_limit(self, agent: str) -> int | None:
        deployment = self._agents.get(agent).batch_target
        return self._enqueued_tokens.get(deployment, self._enqueued_tokens.get("*"))

    async def poll(self, work: PollWork) -> PollReport:
        states = [await self._api.retrieve(batch_id) for batch_id in work.batch_ids]
        return PollReport(statuses={state.batch_id: state.status for state in states})

    async def cancel(self, work: PollWork) -> None:
        for batch_id in work.batch_ids:
            state = await self._api.retrieve(batch_id)
            if not state.final:
                await self._api.cancel(batch_id)

    async def collect(self, work: CollectWork) -> RoundReport:
        done = f"{work.run_id}/round-{work.round}.report.json"
        try:  # an execution that finished before: its outcome, with no attempt spent again
            return RoundReport.model_validate_json(await self._blobs.get(self._container, done))
        except BlobNotFoundError:
            pass
        history = await self._history(work.history)
        expected: dict[int, str] = {}
        results: dict[int, LineResult] = {}
        for batch in work.batches:
            state = await self._api.retrieve(batch.batch_id)
            if not state.final:
                raise RuntimeError(f"batch {batch.batch_id} is {state.status}, not finished")
            for file_id in (state.output_file_id, state.error_file_id):
                if file_id:
                    async for line in self._api.lines(file_id):
                        for result in parse_results((line,)):
                            results[result.index] = result
            # An item with no line at all was not reached before the batch ended.
            for index in batch.indexes:
                expected[index] = state.status
        nexts: list[int] = []
        fallback: list[int] = []
        failed = 0
        for index in sorted(set(results) | set(expected)):
            result = results.get(index) or LineResult(
                index, reason=f"batch {expected.get(index, 'ended')}", retryable=True
            )
            if result.response is not None:
                history.setdefault(index, []).append(result.response)
                nexts.append(index)
            elif result.retryable and work.fallback:
                fallback.append(index)  # the interactive path answers it, on its own budget
            elif result.retryable:
                attempts = await self._store.record_attempt(
                    work.run_id, index, ItemError("transient", result.reason or "batch")
                )
                if attempts < work.max_attempts:
                    nexts.append(index)
                else:
                    await self._fail(
                        work.run_id, index, "transient", f"{result.reason} (after {attempts})"
                    )
                    failed += 1
            else:
                await self._fail(work.run_id, index, "permanent", result.reason or "batch")
                failed += 1
        name = f"{work.run_id}/round-{work.round}.json"
        await self._put_history(name, {i: history[i] for i in nexts if i in history})
        report = RoundReport(next=nexts, failed=failed, fallback=fallback, history=name)
        await self._blobs.put(
            self._container, done, report.model_dump_json().encode(), overwrite=True
        )
        return report

    async def aclose(self) -> None:
        await self._rounds.aclose()

    async def _history(self, name: str | None) -> History:
        if name is None:
            return {}
        raw: Mapping[str, list[dict[str, Any]]] = json.loads(
            await self._blobs.get(self._container, name)
        )
        return {int(index): list(responses) for index, responses in raw.items()}

    async def _put_history(self, name: str, history: History) -> None:
        payload = json.dumps({str(i): r for i, r in history.items()}, separators=(",", ":"))
        # Deterministic content: a re-executed collect writes the same blob again.
        await self._blobs.put(self._container, name, payload.encode(), overwrite=True)

    async def _fail(
        self,
        run_id: str,
        index: int,
        kind: str,
        reason: str,
        error: ModelError | None = None,
        cost: float = 0.0,
    ) -> None:
        usage = error.usage if error is not None else NO_USAGE
        outcome = ItemOutcome.failed(ItemError(kind, reason), usage=usage, cost=cost)
        await self._store.complete_item(run_id, index, outcome)


def _pending(item: Item) -> bool:
    return item.status == ItemStatus.PENDING
