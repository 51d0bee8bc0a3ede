"""What telemetry costs: one durable batch run with telemetry off, with OTLP, and with OTLP plus
Agent Framework's instrumentation, side by side in one invocation.

    .venv/bin/python bench/telemetry_cost.py [--queries 2000] [--concurrency 64]
        [--latency-ms 100] [--batch-size 64] [--item-concurrency 8] [--workers 2]
        [--repeat 1] [--configs off,view,otlp,otlp+af] [--settle-s 6] [--echo]

Starts the model simulator (``python -m devhost.simulator``), a local OTLP/HTTP receiver
(tests/otlp_receiver.py, in this process) and one devhost per configuration, each on this project
with its own temporary SQLite store and these settings:

- ``off``: no OpenTelemetry variable at all (the API's no-op tracer and meter, Agent Framework's
  instrumentation off) and ``DEVHOST_METRICS=off``: what `agentops.telemetry` promises costs
  nothing.
- ``view``: devhost's default: no OpenTelemetry variable, so devhost's metrics view collects the
  app's metrics from every process over OTLP on loopback (metrics only, no spans or logs).
- ``otlp``: ``OTEL_EXPORTER_OTLP_ENDPOINT`` at the receiver (traces, metrics and logs over
  http/protobuf with the SDK's default batching and export interval), ``ENABLE_INSTRUMENTATION``
  false: the app's own spans, metrics and log records only.
- ``otlp+af``: the same with ``ENABLE_INSTRUMENTATION=true``: Agent Framework's ``invoke_agent``
  and ``chat {model}`` spans and its ``gen_ai.client.*`` metrics too.

Each devhost gets two warm-up runs of a full window; then the configurations are measured in turn,
round after round (``--repeat``), so that the shared machine's other load drifts over all of them
alike. A run is N distinct queries (bench/batch_runs.py's ``DurableRuns``: POST the run, poll until
terminal). Wall time is from the POST to the run's ``finishedAt``; CPU is read from /proc for
devhost (with its worker processes), for its main process alone, for the simulator and for this
process (the client and the receiver), from the POST until ``--settle-s`` after the run ends, so
that what the batching exporters send after the last item is counted. Prints CPU per item by
process and wall time, each as a ratio to ``off`` (medians over the repeats).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
sys.path.insert(0, str(ROOT / "bench"))

from batch_runs import DurableRuns, cpu_seconds  # noqa: E402
from transport import Bench, start_simulator  # noqa: E402

from devhost.testing import Devhost, free_port, start_devhost  # noqa: E402
from tests.otlp_receiver import Receiver, otlp_receiver  # noqa: E402

# Every variable that would switch telemetry on. The bench removes them from its own environment
# (which devhost inherits), so that the shell it runs in cannot leak a collector into "off" nor a
# second one into the others; an empty per-signal endpoint would be taken as the endpoint itself.
_TELEMETRY_VARIABLES = (
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_SDK_DISABLED",
    "ENABLE_INSTRUMENTATION",
    "DEVHOST_METRICS",
)
CONFIGS = ("off", "view", "otlp", "otlp+af")


def service_name(config: str) -> str:
    return f"agentops-bench-{config}"


def config_env(name: str, receiver: Receiver) -> dict[str, str]:
    if name == "off":
        return {"DEVHOST_METRICS": "off"}
    if name == "view":
        return {}
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_SERVICE_NAME": service_name(name),
        "ENABLE_INSTRUMENTATION": "true" if name == "otlp+af" else "false",
    }


@dataclass(frozen=True, slots=True)
class Measured:
    wall_s: float
    items: int
    devhost_cpu_s: float
    main_cpu_s: float
    simulator_cpu_s: float
    bench_cpu_s: float
    posts: int
    bytes_received: int


async def measure(
    name: str, durable: DurableRuns, simulator_pid: int, receiver: Receiver, settle_s: float
) -> Measured:
    """One run, with CPU from the POST until `settle_s` after the run ended."""
    process = durable.devhost.process
    assert process is not None
    pid = process.pid
    host0, main0 = cpu_seconds(pid), cpu_seconds(pid, descendants=False)
    sim0, bench0 = cpu_seconds(simulator_pid), time.process_time()
    posts0 = len(receiver.posts)
    row = await durable.run()
    await asyncio.sleep(settle_s)
    # The idle devhosts export too (metrics on their interval): count this one's posts only.
    service = service_name(name).encode()
    posts = [post for post in receiver.posts[posts0:] if service in post.body]
    return Measured(
        wall_s=row.wall_s,
        items=row.completed + row.failed,
        devhost_cpu_s=cpu_seconds(pid) - host0,
        main_cpu_s=cpu_seconds(pid, descendants=False) - main0,
        simulator_cpu_s=cpu_seconds(simulator_pid) - sim0,
        bench_cpu_s=time.process_time() - bench0,
        posts=len(posts),
        bytes_received=sum(len(post.body) for post in posts),
    )


def devhost_env(name: str, args: argparse.Namespace, receiver: Receiver, tmp: Path) -> dict:
    return {
        "MODEL_ENDPOINT": f"http://127.0.0.1:{args.sim_port}/v1",
        "SQLITE_PATH": str(tmp / "agentops.db"),
        "TASKHUB_NAME": "benchtelemetry",
        "BATCH_SIZE": str(args.batch_size),
        "ITEM_CONCURRENCY": str(args.item_concurrency),
        "MAX_IN_FLIGHT": str(args.max_in_flight),
        "PYTHON_ENABLE_INIT_INDEXING": "1",  # the routes take the HTTP streams types
        "BACKUP_SCHEDULE": "0 5 * * * *",  # the app's timers need them, as in Azure
        "COST_REPORT_SCHEDULE": "0 15 0 * * *",
        "COMPLIANCE_REPORT_SCHEDULE": "0 30 0 * * *",
        # 20 status polls a second pass the per-user limit of 300 a minute (bench/batch_runs.py).
        "USER_REQUESTS_PER_MINUTE": "1000000",
        "TENANT_REQUESTS_PER_MINUTE": "1000000",
        **({"FUNCTIONS_WORKER_PROCESS_COUNT": str(args.workers)} if args.workers else {}),
        **config_env(name, receiver),
    }


async def run_all(
    args: argparse.Namespace, hosts: dict[str, Devhost], receiver: Receiver, simulator_pid: int
) -> dict[str, list[Measured]]:
    """Warm every devhost up, then measure the configurations in turn, round after round, so
    that whatever else the machine does drifts over all of them alike."""
    base_url = f"http://127.0.0.1:{args.sim_port}/v1"
    latency_s = args.latency_ms / 1000
    runs: dict[str, DurableRuns] = {}
    for name, devhost in hosts.items():
        # Small runs first: imports, Agent Framework, the exporters and the pools warm up as
        # they would after the first requests in a long-lived worker. A full window of
        # activities, twice, so that a worker process still starting at the first gets some.
        warm_n = min(args.queries, args.max_in_flight * args.batch_size)
        warm = DurableRuns(
            devhost, Bench(base_url, warm_n, args.concurrency, latency_s), simulator_pid
        )
        for warm.rounds in (-2, -1):
            await warm.run()
        runs[name] = DurableRuns(
            devhost, Bench(base_url, args.queries, args.concurrency, latency_s), simulator_pid
        )
    results: dict[str, list[Measured]] = {name: [] for name in hosts}
    for round_ in range(1, args.repeat + 1):
        for name in hosts:
            one = await measure(name, runs[name], simulator_pid, receiver, args.settle_s)
            results[name].append(one)
            print(
                f"{name:<8} round {round_}: {one.wall_s:.2f} s, {one.items} items; cpu "
                f"devhost {one.devhost_cpu_s:.2f} s (main {one.main_cpu_s:.2f} s), "
                f"simulator {one.simulator_cpu_s:.2f} s, bench {one.bench_cpu_s:.2f} s; "
                f"receiver got {one.posts} posts, {one.bytes_received / 1024:.0f} KiB",
                flush=True,
            )
    return results


def summary(
    runs: list[Measured], field: str, per_item: bool, pick: Callable[[list[float]], float]
) -> float:
    return pick([getattr(one, field) / (one.items if per_item else 1) for one in runs])


def report(args: argparse.Namespace, results: dict[str, list[Measured]]) -> None:
    bound = args.queries * args.latency_ms / 1000 / args.concurrency
    print()
    print(
        f"N={args.queries} C={args.concurrency} L={args.latency_ms:g} ms (bound {bound:.2f} s); "
        f"BATCH_SIZE={args.batch_size} ITEM_CONCURRENCY={args.item_concurrency} "
        f"MAX_IN_FLIGHT={args.max_in_flight} workers={args.workers}; {args.repeat} rounds"
    )
    columns = [
        ("wall s", "wall_s", False, 1.0),
        ("devhost ms/item", "devhost_cpu_s", True, 1000.0),
        ("main ms/item", "main_cpu_s", True, 1000.0),
        ("sim ms/item", "simulator_cpu_s", True, 1000.0),
        ("bench ms/item", "bench_cpu_s", True, 1000.0),
        ("OTLP KiB/item", "bytes_received", True, 1 / 1024),
    ]
    baseline = "off" if "off" in results else next(iter(results))
    # The median, and the minimum: on a machine shared with other work, the least disturbed run
    # is the closest to what the configuration itself costs.
    for label, pick in (("median", statistics.median), ("minimum", min)):
        header = f"{label:<10}" + "".join(f"{title:>22}" for title, *_ in columns)
        print(header)
        print("-" * len(header))
        for name in results:
            cells = []
            for _, field, per_item, scale in columns:
                mine = summary(results[name], field, per_item, pick)
                base = summary(results[baseline], field, per_item, pick)
                ratio = f"{mine / base:.2f}x" if base > 0 else "-"
                cells.append(f"{mine * scale:>14.3f} ({ratio:>5})")
            print(f"{name:<10}" + "".join(f"{cell:>22}" for cell in cells))
        print()
    print(f"ratios are to '{baseline}'; the bench column includes the OTLP receiver's parsing")


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
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--configs",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=list(CONFIGS),
    )
    parser.add_argument(
        "--settle-s",
        type=float,
        default=6.0,
        help="CPU is counted until this long after a run ends (the span batcher waits 5 s)",
    )
    parser.add_argument("--echo", action="store_true", help="copy devhost's output to stderr")
    args = parser.parse_args()
    unknown = sorted(set(args.configs) - set(CONFIGS))
    if unknown:
        parser.error(f"unknown configurations {unknown} (choose from {', '.join(CONFIGS)})")
    per_activity = min(args.batch_size, args.item_concurrency)
    if args.concurrency % per_activity:
        parser.error("--concurrency must be a multiple of min(--batch-size, --item-concurrency)")
    args.max_in_flight = args.concurrency // per_activity
    for variable in _TELEMETRY_VARIABLES:
        os.environ.pop(variable, None)
    args.sim_port = free_port()
    simulator = start_simulator(args.sim_port, args.latency_ms)
    results: dict[str, list[Measured]] = {}
    try:
        with otlp_receiver() as receiver:
            print(f"simulator pid {simulator.pid}; OTLP receiver at {receiver.url}", flush=True)
            with contextlib.ExitStack() as stack:
                hosts: dict[str, Devhost] = {}
                for name in args.configs:
                    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
                    hosts[name] = stack.enter_context(
                        start_devhost(
                            ROOT,
                            env=devhost_env(name, args, receiver, tmp),
                            simulator=False,
                            time_skipping=False,
                            data_dir=tmp / "devhost",
                            echo=args.echo,
                        )
                    )
                results = asyncio.run(run_all(args, hosts, receiver, simulator.pid))
    finally:
        simulator.terminate()
        simulator.wait(timeout=5)
    report(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
