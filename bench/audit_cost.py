"""What recording an audit entry costs a request, and how fast the background writer appends.

    .venv/bin/python bench/audit_cost.py             # SQLite in a temporary file
    .venv/bin/python bench/audit_cost.py --n 2000

Figures:
- per request, the synchronous append the app used to do (read the chain head, append), one
  request at a time and 16 at once on one tenant;
- per request, what a request does now: build the entry from the request (`Access`) and queue it
  (`AuditWriter.submit`), with the writer appending in the background meanwhile;
- the background writer's throughput: entries appended per second, 4 tenant chains.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentops.audit import AuditEvent, AuditTrail
from agentops.audit_writer import AuditWriter
from agentops.auth import Principal
from agentops.store.errors import AuditConflictError
from agentops.store.sqlite import SqliteStore
from tests.triggers.http_requests import http_request
from triggers.access import Access
from triggers.http import HttpResponse, Request


def request() -> Request:
    headers = {"x-forwarded-for": "203.0.113.7:50123", "x-ms-request-id": "r-1"}
    return http_request(
        "GET", "http://127.0.0.1/api/runs/abc", headers=headers, route_params={"run_id": "abc"}
    )


REQUEST = request()


def event(n: int, tenant: str = "contoso") -> AuditEvent:
    """What a route does for its entry: read the request's context, then build the entry."""
    access = Access.begin(REQUEST, None, "run.read", f"runs/{n}")
    access.principal = Principal("ada", "Ada", tenant, frozenset())
    response = HttpResponse("{}", status_code=200, media_type="application/json")
    return access.event(response)


def summary(name: str, seconds: list[float]) -> None:
    ordered = sorted(seconds)
    p50 = statistics.median(ordered) * 1e6
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1e6
    mean = statistics.fmean(ordered) * 1e6
    print(f"{name:<46} mean {mean:9.1f} us  p50 {p50:9.1f} us  p99 {p99:9.1f} us")


async def timed(
    calls: int, concurrency: int, call: Callable[[int], Awaitable[None]]
) -> list[float]:
    seconds: list[float] = []
    queue = iter(range(calls))

    async def worker() -> None:
        for n in queue:
            started = time.perf_counter()
            await call(n)
            seconds.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return seconds


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with SqliteStore(Path(tmp) / "audit.db") as store:
            trail = AuditTrail(store)

            refused = 0

            async def synchronous(i: int) -> None:
                nonlocal refused
                built = event(i)
                try:
                    await trail.append(built.tenant, [built])
                except AuditConflictError:  # lost the race for the head 20 times in a row
                    refused += 1

            summary("old: synchronous append, 1 at a time", await timed(n, 1, synchronous))
            summary("old: synchronous append, 16 at once", await timed(n, 16, synchronous))
            print(f"{'':<46} ({refused} of {2 * n} requests failed: AuditConflictError)")

            writer = AuditWriter(trail)

            async def queued(i: int) -> None:
                await writer.submit(event(i))

            prebuilt = [event(i) for i in range(n)]

            async def queue_only(i: int) -> None:
                await writer.submit(prebuilt[i])

            summary("new: queue only, 1 at a time", await timed(n, 1, queue_only))
            summary("new: build + queue, 1 at a time", await timed(n, 1, queued))
            summary("new: build + queue, 16 at once", await timed(n, 16, queued))
            await writer.aclose()
            print(f"{'':<46} ({writer.written_inline} of {3 * n} written in the request)")

            writer = AuditWriter(trail)
            burst = 10 * n
            events = [event(i, f"tenant-{i % 4}") for i in range(burst)]
            started = time.perf_counter()
            for built in events:
                await writer.submit(built)
            await writer.aclose()
            elapsed = time.perf_counter() - started
            print(
                f"writer throughput: {burst} entries on 4 chains in {elapsed:.2f} s = "
                f"{burst / elapsed:,.0f} entries/s ({writer.written_inline} written inline)"
            )
            for tenant in ("contoso", "tenant-0"):
                assert (await trail.verify(tenant)).ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="requests per figure")
    asyncio.run(main(parser.parse_args().n))
