"""Fan-out/fan-in of no-op activities through devhost over HTTP: activities per second.

Starts devhost on the bench app, starts the orchestration with an HTTP POST (the app's starter
uses the Durable SDK client), polls the status URL until the orchestration completes, and prints
the throughput of each round and the median.

    .venv/bin/python bench/fanout.py [--count 1000] [--rounds 3] [--kind sync|async]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devhost.testing import start_devhost

APP = Path(__file__).resolve().parent.parent / "tests" / "devhost" / "apps" / "durable_bench"


def run_round(client: httpx.Client, base_url: str, count: int, kind: str, master: str) -> float:
    started = time.perf_counter()
    response = client.post(f"{base_url}/api/fanout/{count}", params={"kind": kind})
    response.raise_for_status()
    status_url = response.json()["statusQueryGetUri"]
    while True:
        status = client.get(status_url, headers={"x-functions-key": master}).json()
        if status["runtimeStatus"] not in ("Pending", "Running"):
            break
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    if status["runtimeStatus"] != "Completed" or status["output"] != count:
        raise SystemExit(f"fan-out did not complete: {status}")
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kind", choices=("sync", "async"), default="sync")
    args = parser.parse_args()
    with start_devhost(APP, time_skipping=False) as devhost, httpx.Client(timeout=60) as client:
        rates = []
        for index in range(args.rounds):
            rate = run_round(client, devhost.base_url, args.count, args.kind, devhost.master_key)
            rates.append(rate)
            print(
                f"round {index + 1}: {args.count} {args.kind} activities, {rate:,.0f} activities/s"
            )
        print(
            f"median: {statistics.median(rates):,.0f} activities/s "
            f"({args.count} no-op {args.kind} activities per fan-out, {args.rounds} rounds)"
        )


if __name__ == "__main__":
    main()
