"""Load on the model simulator run as its own process: throughput and added latency.

    .venv/bin/python bench/simulator_load.py [--requests 2000] [--concurrency 64] [--latency-ms 100]

Prints requests per second through the OpenAI SDK, the latency each request saw beyond the
configured latency (p50, p99), and the simulator's own CPU time per request (read from /proc), which
is what bounds it: client and simulator share the machine, and the SDK costs more than the
simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

from openai import AsyncOpenAI


def start_simulator(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "devhost.simulator", "--port", "0", "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on" not in line:
        process.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return process, line.split()[-1]


async def run(
    call: Callable[[int], Awaitable[None]], requests: int, concurrency: int
) -> tuple[float, list[float]]:
    queue = iter(range(requests))
    durations: list[float] = []

    async def worker() -> None:
        for i in queue:
            started = time.perf_counter()
            await call(i)
            durations.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, durations


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(
    name: str, elapsed: float, durations: list[float], latency_ms: float, server_cpu: float
) -> None:
    extra = sorted((d * 1000 - latency_ms) for d in durations)
    p50 = statistics.median(extra)
    p99 = extra[int(0.99 * (len(extra) - 1))]
    print(
        f"{name:8} {len(durations)} requests in {elapsed:.2f} s = {len(durations) / elapsed:,.0f}"
        f" req/s; added latency p50 {p50:.1f} ms, p99 {p99:.1f} ms;"
        f" simulator CPU {server_cpu / len(durations) * 1e6:.0f} us/request"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=100)
    args = parser.parse_args()

    process, url = start_simulator(args.latency_ms)
    try:
        async with AsyncOpenAI(
            base_url=url,
            api_key="k",
            max_retries=0,
        ) as client:

            async def sdk_call(i: int) -> None:
                await client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": f"query number {i}"}],
                )

            await run(sdk_call, args.concurrency, args.concurrency)  # warm up connections
            cpu = cpu_seconds(process.pid)
            elapsed, durations = await run(sdk_call, args.requests, args.concurrency)
            cpu = cpu_seconds(process.pid) - cpu
            report("openai", elapsed, durations, args.latency_ms, cpu)

    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
