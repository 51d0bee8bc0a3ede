"""Store CPU per item on the batch path: the cache lookup, the cache write and the item's outcome.

    .venv/bin/python bench/item_store_path.py [--items 2000] [--batch 8] [--repeat 3]
        [--variant prefetch+joint ...]  (only those variants: for a profiler)

Runs the store work of a batch run's items, without the model, through the real response cache
and SQLite store, in batches of ``--batch`` items answered concurrently (as one activity does):

- ``per-item``: a lookup per item (``cache.get``), the cache write (``cache.put``) and the
  outcome (``complete_item``) as two writes: three round trips.
- ``prefetch``: the batch's keys looked up at once (``cache.prefetch``), then as ``per-item``.
- ``joint``: a lookup per item, the entry written in the outcome's transaction.
- ``prefetch+joint``: both, what ``BatchService`` does: one write per item and one read per
  batch. The batch's items answer together, so their writes share a commit (the store groups
  the writes that wait together).
- ``prefetch+joint/serial``: the same with the items' answers arriving one after another, so
  that each write commits alone: what an item costs on a store with nothing else to do.

Prints, per variant, the median over ``--repeat`` rounds (variants alternate within each round, so
a noisy neighbour hits them alike) of this process's CPU per item (all threads: the event loop
and the store's thread) and of the wall time per item.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentops.model.cache import ResponseCache
from agentops.model.types import ModelAnswer, ModelRequest, Usage
from agentops.store.records import ItemOutcome
from agentops.store.sqlite import SqliteStore

ANSWER = ModelAnswer("a summary of about forty tokens " * 4, Usage(120, 40), "gpt-4o-mini")


def request(query: str) -> ModelRequest:
    return ModelRequest(
        tenant="local",
        agent="summarizer",
        agent_version="v1",
        deployment="gpt-4o-mini",
        tools=(),
        query=query,
        max_output_tokens=300,
        cache_ttl_s=3600,
        sensitive=False,
    )


Variant = Callable[
    [SqliteStore, ResponseCache, str, list[int], list[ModelRequest]], Awaitable[None]
]


async def per_item(
    store: SqliteStore,
    cache: ResponseCache,
    run_id: str,
    batch: list[int],
    reqs: list[ModelRequest],
) -> None:
    async def one(index: int, req: ModelRequest) -> None:
        assert await cache.get(req, producer=f"{run_id}:{index}") is None
        await cache.put(req, ANSWER, producer=f"{run_id}:{index}")
        await store.complete_item(run_id, index, _outcome())

    await asyncio.gather(*(one(i, r) for i, r in zip(batch, reqs, strict=True)))


async def prefetch(
    store: SqliteStore,
    cache: ResponseCache,
    run_id: str,
    batch: list[int],
    reqs: list[ModelRequest],
) -> None:
    await cache.prefetch([k for k in map(cache.key, reqs) if k])
    await per_item(store, cache, run_id, batch, reqs)


async def joint(
    store: SqliteStore,
    cache: ResponseCache,
    run_id: str,
    batch: list[int],
    reqs: list[ModelRequest],
) -> None:
    async def one(index: int, req: ModelRequest) -> None:
        key = cache.key(req)
        assert key is not None and await cache.get(req, key, f"{run_id}:{index}") is None
        entry = cache.entry(req, ANSWER, key, f"{run_id}:{index}")
        await store.complete_item(run_id, index, _outcome(), entry)

    await asyncio.gather(*(one(i, r) for i, r in zip(batch, reqs, strict=True)))


async def prefetch_joint(
    store: SqliteStore,
    cache: ResponseCache,
    run_id: str,
    batch: list[int],
    reqs: list[ModelRequest],
) -> None:
    await cache.prefetch([k for k in map(cache.key, reqs) if k])
    await joint(store, cache, run_id, batch, reqs)


async def prefetch_joint_serial(
    store: SqliteStore,
    cache: ResponseCache,
    run_id: str,
    batch: list[int],
    reqs: list[ModelRequest],
) -> None:
    await cache.prefetch([k for k in map(cache.key, reqs) if k])
    for index, req in zip(batch, reqs, strict=True):
        await joint(store, cache, run_id, [index], [req])


VARIANTS: dict[str, Variant] = {
    "per-item": per_item,
    "prefetch": prefetch,
    "joint": joint,
    "prefetch+joint": prefetch_joint,
    "prefetch+joint/serial": prefetch_joint_serial,
}


def _outcome() -> ItemOutcome:
    return ItemOutcome.completed(ANSWER.text, usage=ANSWER.usage, cost=0.0001, model=ANSWER.model)


async def measure(
    store: SqliteStore, variant: Variant, items: int, size: int
) -> tuple[float, float]:
    """CPU and wall seconds per item for one run of `items` fresh items."""
    run_id = f"bench-{uuid.uuid4().hex[:8]}"
    queries = [f"{run_id} text number {n} about the harbour" for n in range(items)]
    await store.add_items(run_id, queries)
    cache = ResponseCache(store)  # a fresh process's cache: nothing held locally
    reqs = [request(q) for q in queries]
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, items, size):
        batch = list(range(start, min(items, start + size)))
        await variant(store, cache, run_id, batch, reqs[start : start + size])
    return (time.process_time() - cpu) / items, (time.perf_counter() - wall) / items


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--variant", choices=list(VARIANTS), action="append", help="only these (for a profiler)"
    )
    args = parser.parse_args()
    chosen = {name: VARIANTS[name] for name in args.variant or VARIANTS}
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in chosen}
    with tempfile.TemporaryDirectory() as tmp:
        async with SqliteStore(Path(tmp) / "bench.db") as store:
            await measure(store, per_item, 200, args.batch)  # warm up
            for _ in range(args.repeat):
                for name, variant in chosen.items():
                    figures[name].append(await measure(store, variant, args.items, args.batch))
    base = statistics.median(cpu for cpu, _ in next(iter(figures.values())))
    print(f"{args.items} items in batches of {args.batch}, median of {args.repeat}")
    print(f"{'variant':<22} {'CPU ms/item':>12} {'wall ms/item':>13} {'CPU vs first':>16}")
    for name, runs in figures.items():
        cpu = statistics.median(c for c, _ in runs)
        wall = statistics.median(w for _, w in runs)
        print(f"{name:<22} {cpu * 1e3:12.3f} {wall * 1e3:13.3f} {cpu / base:15.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
