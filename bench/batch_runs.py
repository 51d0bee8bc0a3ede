"""Durable batch runs through devhost against the bound N x L / C, next to plain asyncio scripts.

    .venv/bin/python bench/batch_runs.py [--queries 2000] [--concurrency 64] [--latency-ms 100]
        [--batch-size 64] [--workers 2] [--transport aiohttp] [--repeat 3]
        [--scenarios durable,sdk-httpx,...]
        [--env NAME=VALUE ...] [--echo]

Starts the model simulator as a separate process (``python -m devhost.simulator``), then devhost on
this project with ``MODEL_ENDPOINT`` pointing at that simulator, a temporary SQLite store,
``MAX_IN_FLIGHT x min(BATCH_SIZE, ITEM_CONCURRENCY) = C``, and activities in ``--workers`` worker
processes (``FUNCTIONS_WORKER_PROCESS_COUNT``; 0 runs them in the host process). Each round
runs, in the same invocation and against the same simulator:

- ``durable``: ``POST /api/agents/summarizer/runs`` with N distinct queries (distinct across rounds
  too, so the response cache answers none of them), then ``GET /api/runs/{id}`` until the run is
  terminal. Wall time is from just before the POST to the run's ``finishedAt`` (same clock).
- ``sdk-httpx``, ``sdk-aiohttp``, ``guide-loop`` (and optionally ``raw-aiohttp``): the scenarios of
  bench/transport.py, in this process.

Prints, per scenario, the median wall time over ``--repeat`` rounds as a ratio to the bound, and the
CPU seconds that devhost (with any worker processes it started), the simulator and this process
spent in the durable rounds, read from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
sys.path.insert(0, str(ROOT / "bench"))

from transport import Bench, start_simulator  # noqa: E402

from devhost.testing import Devhost, free_port, start_devhost  # noqa: E402

AGENT = "summarizer"
TERMINAL = {"completed", "failed", "canceled", "stopped"}
BASELINES = ["raw-aiohttp", "sdk-httpx", "sdk-aiohttp", "guide-loop"]
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, *, descendants: bool = True) -> float:
    """utime + stime of `pid` (and of its live descendants) from /proc, in seconds."""
    pids = [pid, *(_descendants(pid) if descendants else [])]
    total = 0
    for one in pids:
        try:
            text = Path(f"/proc/{one}/stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # The command name may hold spaces; the fields after it are space separated.
        fields = text[text.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / _TICKS


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(text[text.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass(frozen=True, slots=True)
class DurableRow:
    wall_s: float
    polled_s: float
    completed: int
    failed: int
    devhost_cpu_s: float
    host_main_cpu_s: float
    simulator_cpu_s: float
    client_cpu_s: float


class DurableRuns:
    def __init__(self, devhost: Devhost, bench: Bench, simulator_pid: int) -> None:
        self.devhost = devhost
        self.bench = bench
        self.simulator_pid = simulator_pid
        self.rounds = 0

    async def run(self) -> DurableRow:
        await self.bench._reset()
        self.rounds += 1
        queries = [f"Run {self.rounds}. {self.bench.query(i)}" for i in range(self.bench.n)]
        assert self.devhost.process is not None
        host_cpu0 = cpu_seconds(self.devhost.process.pid)
        main_cpu0 = cpu_seconds(self.devhost.process.pid, descendants=False)
        sim_cpu0 = cpu_seconds(self.simulator_pid)
        client_cpu0 = time.process_time()
        async with httpx.AsyncClient(headers=self.devhost.function_headers, timeout=60) as client:
            wall0, t0 = time.time(), time.perf_counter()
            response = await client.post(
                self.devhost.url(f"/api/agents/{AGENT}/runs"), json={"queries": queries}
            )
            if response.status_code != 202:
                raise RuntimeError(f"submit answered {response.status_code}: {response.text}")
            status_url = response.json()["runStatusUri"]
            while True:
                view = (await client.get(status_url, params={"limit": 1})).json()
                if view["status"] in TERMINAL:
                    break
                await asyncio.sleep(0.05)
            polled = time.perf_counter() - t0
        host_cpu = cpu_seconds(self.devhost.process.pid) - host_cpu0
        main_cpu = cpu_seconds(self.devhost.process.pid, descendants=False) - main_cpu0
        sim_cpu = cpu_seconds(self.simulator_pid) - sim_cpu0
        client_cpu = time.process_time() - client_cpu0
        if view["status"] != "completed":
            raise RuntimeError(f"run ended {view['status']}: {view['counts']}")
        finished = datetime.fromisoformat(view["finishedAt"]).timestamp()
        served = await self.bench._served()
        counts = view["counts"]
        if served != counts["completed"]:
            print(f"  durable: simulator answered {served}, run completed {counts['completed']}")
        return DurableRow(
            wall_s=finished - wall0,
            polled_s=polled,
            completed=int(counts["completed"]),
            failed=int(counts["failed"]),
            devhost_cpu_s=host_cpu,
            host_main_cpu_s=main_cpu,
            simulator_cpu_s=sim_cpu,
            client_cpu_s=client_cpu,
        )


async def run_rounds(args: argparse.Namespace, devhost: Devhost, simulator_pid: int) -> None:
    base_url = f"http://127.0.0.1:{args.sim_port}/v1"
    bench = Bench(base_url, args.queries, args.concurrency, args.latency_ms / 1000)
    durable = DurableRuns(devhost, bench, simulator_pid)
    bound = args.queries * args.latency_ms / 1000 / args.concurrency
    walls: dict[str, list[float]] = {name: [] for name in args.scenarios}
    cpu: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in args.scenarios}
    if "durable" in args.scenarios and args.warmup:
        # Small runs first: imports, Agent Framework and the pool warm up as they would after
        # the first requests in a long-lived worker. A full window of activities, twice: a
        # worker process still starting when the first one is dispatched gets none of it, and
        # the first round's first wave would pay its start (0.1-0.2 s).
        warm_n = min(args.queries, args.max_in_flight * args.batch_size)
        small = Bench(base_url, warm_n, args.concurrency, args.latency_ms / 1000)
        warm = DurableRuns(devhost, small, simulator_pid)
        for warm.rounds in (-2, -1):
            await warm.run()
    for round_ in range(1, args.repeat + 1):
        for name in args.scenarios:
            if name == "durable":
                row = await durable.run()
                walls[name].append(row.wall_s)
                cpu[name].append(
                    (row.devhost_cpu_s, row.host_main_cpu_s, row.simulator_cpu_s, row.client_cpu_s)
                )
                print(
                    f"round {round_} durable: {row.wall_s:.2f} s ({row.wall_s / bound:.2f}x), "
                    f"seen done after {row.polled_s:.2f} s; {row.completed} completed, "
                    f"{row.failed} failed; cpu devhost {row.devhost_cpu_s:.2f} s "
                    f"(main process {row.host_main_cpu_s:.2f} s), "
                    f"simulator {row.simulator_cpu_s:.2f} s, bench {row.client_cpu_s:.2f} s",
                    flush=True,
                )
                continue
            sim0 = cpu_seconds(simulator_pid)
            result = await bench.run(name)
            sim = cpu_seconds(simulator_pid) - sim0
            walls[name].append(result.wall_s)
            cpu[name].append((0.0, 0.0, sim, result.cpu_s))
            print(
                f"round {round_} {name}: {result.wall_s:.2f} s ({result.wall_s / bound:.2f}x), "
                f"{result.errors} errors; cpu simulator {sim:.2f} s, client {result.cpu_s:.2f} s",
                flush=True,
            )
    print()
    print(
        f"N={args.queries} C={args.concurrency} L={args.latency_ms:g} ms  bound N x L / C = "
        f"{bound:.3f} s; durable: BATCH_SIZE={args.batch_size} "
        f"ITEM_CONCURRENCY={args.item_concurrency} MAX_IN_FLIGHT={args.max_in_flight}"
        f" MODEL_TRANSPORT={args.transport} workers={args.workers}; median of {args.repeat}"
    )
    header = (
        f"{'scenario':<14}{'wall s':>8}{'x bound':>9}{'cpu devhost':>13}{'(main)':>8}{'cpu sim':>9}"
        f"{'cpu client':>12}"
    )
    print(header)
    print("-" * len(header))
    for name in args.scenarios:
        median = statistics.median(walls[name])
        host, main, sim, client = (
            statistics.median(values) for values in zip(*cpu[name], strict=True)
        )
        host_text = f"{host:>13.2f}{main:>8.2f}" if name == "durable" else f"{'-':>13}{'-':>8}"
        print(
            f"{name:<14}{median:>8.2f}{median / bound:>9.2f}{host_text}{sim:>9.2f}{client:>12.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument(
        "--batch-size", type=int, default=64, help="items per activity (B), the app's default"
    )
    parser.add_argument(
        "--item-concurrency", type=int, default=8, help="items in flight within one activity"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="activity worker processes; 0: in the host process"
    )
    parser.add_argument("--transport", choices=["aiohttp", "httpx"], default="aiohttp")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-warmup", dest="warmup", action="store_false")
    parser.add_argument(
        "--scenarios",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=["durable", "sdk-httpx", "sdk-aiohttp", "guide-loop"],
    )
    parser.add_argument(
        "--env", action="append", default=[], help="extra app setting NAME=VALUE for devhost"
    )
    parser.add_argument("--echo", action="store_true", help="copy devhost's output to stderr")
    args = parser.parse_args()
    unknown = sorted(set(args.scenarios) - {"durable", *BASELINES})
    if unknown:
        parser.error(f"unknown scenarios {unknown}")
    per_activity = min(args.batch_size, args.item_concurrency)
    if args.concurrency % per_activity:
        parser.error("--concurrency must be a multiple of min(--batch-size, --item-concurrency)")
    args.max_in_flight = args.concurrency // per_activity
    extra = dict(item.split("=", 1) for item in args.env)
    args.sim_port = free_port()
    simulator = start_simulator(args.sim_port, args.latency_ms)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
            env = {
                "MODEL_ENDPOINT": f"http://127.0.0.1:{args.sim_port}/v1",
                "SQLITE_PATH": str(Path(tmp) / "agentops.db"),
                "TASKHUB_NAME": "benchbatch",
                "BATCH_SIZE": str(args.batch_size),
                "ITEM_CONCURRENCY": str(args.item_concurrency),
                "MAX_IN_FLIGHT": str(args.max_in_flight),
                "MODEL_TRANSPORT": args.transport,
                "PYTHON_ENABLE_INIT_INDEXING": "1",  # the routes take the HTTP streams types
                "BACKUP_SCHEDULE": "0 5 * * * *",  # the app's timer needs it, as in Azure
                "COST_REPORT_SCHEDULE": "0 15 0 * * *",
                "COMPLIANCE_REPORT_SCHEDULE": "0 30 0 * * *",
                # The status polls (20 a second) would pass the per-user limit of 300 a minute
                # within a round, and a refused poll or submit is not what this measures: the
                # limiter still counts every request, at a limit these rounds never reach.
                "USER_REQUESTS_PER_MINUTE": "1000000",
                "TENANT_REQUESTS_PER_MINUTE": "1000000",
                **({"FUNCTIONS_WORKER_PROCESS_COUNT": str(args.workers)} if args.workers else {}),
                **extra,
            }
            with start_devhost(
                ROOT,
                env=env,
                simulator=False,
                time_skipping=False,
                data_dir=Path(tmp) / "devhost",
                echo=args.echo,
            ) as devhost:
                print(
                    f"simulator pid {simulator.pid} port {args.sim_port}; "
                    f"devhost pid {devhost.process.pid if devhost.process else '?'} "
                    f"at {devhost.base_url}",
                    flush=True,
                )
                asyncio.run(run_rounds(args, devhost, simulator.pid))
    finally:
        simulator.terminate()
        simulator.wait(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
