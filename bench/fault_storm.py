"""A batch through a fault storm against the same batch with no faults, side by side.

    .venv/bin/python bench/fault_storm.py [--queries 2000] [--latency-ms 50] [--repeat 1]

devhost serves the app with its in-process model simulator, real durable timers (no time
skipping) and the default retry settings. Each round runs the batch twice against a fresh
simulator config: healthy, then 20% 429 (retry-after 1 s), 10% 5xx and 5% timeouts past the
client's 2 s timeout. Prints wall time, the ratio storm/healthy, model calls and outcomes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devhost.testing import start_devhost  # noqa: E402

STORM = {
    "rates": {"429": 0.20, "500": 0.05, "503": 0.05, "timeout": 0.05},
    "retry_after_ms": 1000,
    "timeout_s": 10,
}
TERMINAL = {"completed", "failed", "canceled", "stopped"}


def run_batch(api: httpx.Client, queries: list[str]) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    response = api.post("/api/agents/summarizer/runs", json={"queries": queries})
    response.raise_for_status()
    run_id = response.json()["runId"]
    while True:
        view = api.get(f"/api/runs/{run_id}", params={"limit": 1}).json()
        if view["status"] in TERMINAL:
            return time.monotonic() - started, view
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="an app setting"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "TASKHUB_NAME": "benchstorm",
            "SQLITE_PATH": str(Path(tmp) / "agentops.db"),
            "SIM_LATENCY_MS": str(args.latency_ms),
            "MODEL_TIMEOUT_S": "2",
            "MAX_ATTEMPTS": "8",
            "RETRY_BASE_S": "1",
            "RETRY_MAX_S": "8",
            "PYTHON_ENABLE_INIT_INDEXING": "1",  # the routes take the HTTP streams types
            "BACKUP_SCHEDULE": "0 5 * * * *",  # the app's timer needs it, as in Azure
            "COST_REPORT_SCHEDULE": "0 15 0 * * *",
            "COMPLIANCE_REPORT_SCHEDULE": "0 30 0 * * *",
            **dict(item.split("=", 1) for item in args.env),
        }
        with (
            start_devhost(
                ROOT,
                env=env,
                simulator=True,
                simulator_setting="MODEL_ENDPOINT",
                time_skipping=False,
            ) as host,
            httpx.Client(base_url=host.base_url, headers=host.function_headers, timeout=60) as api,
        ):
            sim = httpx.Client(base_url=str(host.simulator_url), timeout=10)
            rows: dict[str, list[tuple[float, dict[str, Any], dict[str, Any]]]] = {}
            for round_number in range(args.repeat):
                for name, faults in (("healthy", {}), ("storm", STORM)):
                    sim.patch("/sim/config", json={"faults": faults}).raise_for_status()
                    sim.post("/sim/reset").raise_for_status()
                    queries = [
                        f"{name} round {round_number} text {i} about the harbour"
                        for i in range(args.queries)
                    ]
                    wall, view = run_batch(api, queries)
                    stats = sim.get("/sim/stats").json()
                    rows.setdefault(name, []).append((wall, view, stats))
                    print(f"{name:8} round {round_number}: {wall:6.2f} s", flush=True)

    print(
        f"\n{args.queries} queries, simulator latency {args.latency_ms:g} ms, "
        "app defaults for batches and windows, real durable timers"
    )
    print(
        f"{'run':8} {'wall s':>8} {'model calls':>12} {'429':>6} {'5xx':>6} {'timeouts':>9} "
        f"{'completed':>10} {'failed':>7}"
    )
    medians = {}
    for name, results in rows.items():
        wall = statistics.median(r[0] for r in results)
        medians[name] = wall
        _, view, stats = results[-1]
        by = stats["by_status"]
        faults = stats.get("faults", {})
        print(
            f"{name:8} {wall:8.2f} {stats['requests']:12d} {by.get('429', 0):6d} "
            f"{by.get('500', 0) + by.get('503', 0):6d} {faults.get('timeout', 0):9d} "
            f"{view['counts']['completed']:10d} {view['counts']['failed']:7d}"
        )
    print(f"\nstorm / healthy: {medians['storm'] / medians['healthy']:.2f}x")


if __name__ == "__main__":
    main()
