"""Store operation figures: latency, throughput, and how long the event loop is held.

    .venv/bin/python bench/store_ops.py            # SQLite in a temporary file
    .venv/bin/python bench/store_ops.py --cosmos   # also the local Cosmos DB-compatible server

The event-loop figure is the longest gap seen by a task that sleeps 1 ms in a loop while the store
works: an adapter that blocked the loop would show its whole operation time there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentops.store import CONTAINERS, ItemOutcome
from agentops.store.ports import Store

REPO = Path(__file__).resolve().parents[1]
EMULATOR_KEY = (
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
)


class LoopWatch:
    """Measures the longest time the event loop was unavailable to a 1 ms sleeper."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.max_gap = max(self.max_gap, now - last - 0.001)
            last = now

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def timed(calls: list[Callable[[], Awaitable[object]]]) -> list[float]:
    out = []
    for call in calls:
        started = time.perf_counter()
        await call()
        out.append(time.perf_counter() - started)
    return out


async def run_suite(label: str, store: Store, n_items: int, n_ops: int, concurrency: int) -> None:
    print(f"\n== {label} ==")
    run_id = f"bench-{uuid.uuid4().hex[:8]}"
    queries = [f"benchmark query number {i} " + "x" * 200 for i in range(n_items)]
    async with LoopWatch() as watch:
        started = time.perf_counter()
        await store.add_items(run_id, queries)
        took = time.perf_counter() - started
    print(
        f"add_items({n_items:,}): {took * 1000:8.1f} ms   "
        f"loop held at most {watch.max_gap * 1000:.1f} ms"
    )
    started = time.perf_counter()
    await store.add_items(run_id, queries)
    print(f"add_items again (no-op): {(time.perf_counter() - started) * 1000:8.1f} ms")

    outcome = ItemOutcome.completed("answer", cost=0.001)
    lat = await timed([lambda i=i: store.complete_item(run_id, i, outcome) for i in range(n_ops)])
    print(
        f"complete_item sequential: p50 {statistics.median(lat) * 1e3:.2f} ms  "
        f"p99 {pct(lat, 0.99) * 1e3:.2f} ms"
    )

    limiter = asyncio.Semaphore(concurrency)

    async def complete(index: int) -> bool:
        async with limiter:
            return await store.complete_item(run_id, index, outcome)

    span = range(n_ops, min(n_items, n_ops + 2000))
    async with LoopWatch() as watch:
        started = time.perf_counter()
        cpu_started = time.process_time()  # this process only: the store's client side
        results = await asyncio.gather(*(complete(i) for i in span))
        cpu = time.process_time() - cpu_started
        took = time.perf_counter() - started
    assert all(results)
    print(
        f"complete_item x{len(span)} at concurrency {concurrency}: "
        f"{len(span) / took:8.0f} ops/s   client CPU {cpu / len(span) * 1000:.2f} ms per op   "
        f"loop held at most {watch.max_gap * 1000:.1f} ms"
    )

    await store.cache_put("bench-key", {"text": "cached answer"}, ttl_s=600)
    lat = await timed([lambda: store.cache_get("bench-key") for _ in range(n_ops)])
    print(
        f"cache_get hit: p50 {statistics.median(lat) * 1e3:.2f} ms  "
        f"p99 {pct(lat, 0.99) * 1e3:.2f} ms"
    )
    lat = await timed([lambda: store.item_totals(run_id) for _ in range(20)])
    print(f"item_totals over {n_items:,} items: p50 {statistics.median(lat) * 1e3:.1f} ms")


@contextlib.asynccontextmanager
async def local_cosmos() -> AsyncIterator[str]:
    from azure.cosmos import PartitionKey
    from azure.cosmos.aio import CosmosClient

    proc = await asyncio.create_subprocess_exec(
        "node",
        str(REPO / "tools" / "cosmosdb-server" / "serve.js"),
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
        endpoint = f"http://{line.split()[1]}/"
        async with CosmosClient(endpoint, EMULATOR_KEY, enable_endpoint_discovery=False) as c:
            database = await c.create_database("bench")
            for spec in CONTAINERS:
                await database.create_container(
                    spec.name, PartitionKey(spec.partition_key_path), default_ttl=spec.default_ttl
                )
        yield endpoint
    finally:
        proc.terminate()
        await proc.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--cosmos", action="store_true", help="also run on the local server")
    args = parser.parse_args()

    from agentops.store.sqlite import SqliteStore

    with tempfile.TemporaryDirectory() as tmp:
        async with SqliteStore(Path(tmp) / "bench.db") as store:
            await run_suite("sqlite", store, args.items, args.ops, args.concurrency)
    if args.cosmos:
        from agentops.store.cosmos import CosmosStore

        async with (
            local_cosmos() as endpoint,
            CosmosStore(endpoint, EMULATOR_KEY, "bench", enable_endpoint_discovery=False) as store,
        ):
            await run_suite("cosmos (local server)", store, args.items, args.ops, args.concurrency)


if __name__ == "__main__":
    asyncio.run(main())
