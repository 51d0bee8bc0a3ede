"""A batch-mode run's figures: model cost in each mode, calls to the Batch API, worker CPU.

    .venv/bin/python bench/batch_mode.py              # 10,000 summarizer items
    .venv/bin/python bench/batch_mode.py --n 2000 --agent calculator

Drives the batch-mode activities' work (``BatchModeService``: submit, poll, collect) round by
round over the real SQLite store, blob folder and agent loop, against the in-process Batch API
(``MemoryBatchApi``) answering like a model (a tool call first for an agent with tools). The
orchestrator's own actions per round are fixed (one submit, a timer and a poll per poll, one
collect) whatever the item count, so durable actions per item are those divided by the items.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2

from agentops.agents.batch_rounds import BatchRounds
from agentops.auth import LOCAL_PRINCIPAL
from agentops.bootstrap import build_services
from agentops.model.batch_memory import MemoryBatchApi
from agentops.model.pricing import PriceTable
from agentops.model.types import Usage
from agentops.runs.batch_mode_service import BatchModeService
from agentops.runs.contracts import CollectWork, PollWork, RoundWork
from agentops.runs.requests import RequestLimits, RunRequest
from agentops.settings import Settings
from tests.agentops.model.test_request_body import REPO_AGENTS, RecordingModel


async def main(n: int, agent: str) -> None:
    tool = "add" if agent == "calculator" else None
    model = RecordingModel(tool=tool)

    def respond(body: dict[str, Any]) -> dict[str, Any]:
        request = httpx2.Request("POST", "http://model.test/v1/chat/completions", json=body)
        return model(request).json()

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        services = build_services(
            Settings(
                store="sqlite",
                sqlite_path=root / "agentops.db",
                blob_root=root / "blobs",
                agents_file=REPO_AGENTS,
                max_queries=max(n, 10_000),
            )
        )
        api = MemoryBatchApi(respond=respond)
        service = BatchModeService(
            services.store,
            services.agents,
            BatchRounds(services.agents),
            api,
            PriceTable(),
            services.blobs,
            container="batch-rounds",
        )
        request = RunRequest.model_validate(
            {"queries": [f"Item {i}: what is {i} + 2?" for i in range(n)]},
            context=RequestLimits(max_queries=max(n, 10_000)),
        )
        run = await services.runs.create(LOCAL_PRINCIPAL, agent, request)
        todo, history, rounds, polls = list(range(n)), None, 0, 0
        cpu = {"submit": 0.0, "collect": 0.0}
        while todo:
            rounds += 1
            work = RoundWork(
                run_id=run.run_id,
                tenant=run.tenant_id,
                agent=agent,
                round=rounds,
                indexes=todo,
                history=history,
            )
            started = time.process_time()
            plan = await service.submit(work)
            cpu["submit"] += time.process_time() - started
            if not plan.batches:
                break
            batches, open_ids = plan.batches, [b.batch_id for b in plan.batches]
            while open_ids:
                polls += 1
                statuses = (await service.poll(PollWork(batch_ids=open_ids))).statuses
                open_ids = [b for b in open_ids if statuses[b] not in ("completed", "expired")]
            started = time.process_time()
            report = await service.collect(
                CollectWork(
                    run_id=run.run_id,
                    tenant=run.tenant_id,
                    agent=agent,
                    round=rounds,
                    batches=batches,
                    history=history,
                    max_attempts=3,
                )
            )
            cpu["collect"] += time.process_time() - started
            todo, history = report.next, report.history
        totals = await services.store.item_totals(run.run_id)
        deployment = services.agents.get(agent).deployment
        interactive = PriceTable().cost(totals.usage, deployment)
        await service.aclose()
        await services.aclose()
    usage: Usage = totals.usage
    print(f"{n} items of {agent}: {totals.counts.completed} completed in {rounds} rounds")
    print(f"tokens: {usage.prompt_tokens} in, {usage.completion_tokens} out")
    print(f"model cost: batch {totals.cost:.4f}, interactive {interactive:.4f} (USD)")
    print(
        "Batch API calls: "
        + ", ".join(f"{name} {count}" for name, count in sorted(api.calls.items()))
    )
    # Per model round: submit, then (timer + poll) per poll, then collect; the last round only
    # records. Each is one scheduled action in the orchestration's history.
    actions = rounds + 2 * polls + (rounds - 1)
    print(f"durable actions: {actions} ({actions / n:.4f} per item)")
    for name, seconds in cpu.items():
        print(f"worker CPU, {name}: {seconds * 1e3 / n:.3f} ms per item")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--agent", default="summarizer")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.agent))
