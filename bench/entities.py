"""Entity operations per second through devhost: signals to one entity, and to 1,000 entities.

Starts devhost on the entity test app and, for each shape, sends `--signals` signals of `add 1`
two ways, then waits until every counter holds its exact count (read over the entity HTTP API):

- from an orchestrator (`signal_many`: one episode sends them all, as a fan-out would);
- from outside, over the entity HTTP API (`POST .../entities/Counter/{key}?op=add`), with
  `--concurrency` requests in flight.

    .venv/bin/python bench/entities.py [--signals 10000] [--concurrency 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devhost.testing import Devhost, start_devhost

APP = Path(__file__).resolve().parent.parent / "tests" / "devhost" / "apps" / "durable_entities"
WEBHOOK = "/runtime/webhooks/durabletask"


async def wait_for_counts(http: httpx.AsyncClient, prefix: str, keys: int, signals: int) -> None:
    expected = {
        f"{prefix}{i}": signals // keys + (1 if i < signals % keys else 0) for i in range(keys)
    }
    while True:
        listed = (
            await http.get(f"{WEBHOOK}/entities/Counter", params={"fetchState": "true"})
        ).json()
        seen = {item["entityId"]["key"]: item["state"] for item in listed}
        if all(seen.get(key) == count for key, count in expected.items()):
            return
        await asyncio.sleep(0.05)  # a listing of every entity costs the host CPU: not too often


async def from_orchestrator(
    http: httpx.AsyncClient, devhost: Devhost, keys: int, signals: int
) -> float:
    prefix = f"o{uuid.uuid4().hex[:8]}-"
    started = time.perf_counter()
    response = await http.post(
        f"{WEBHOOK}/orchestrators/signal_many",
        json={"prefix": prefix, "keys": keys, "signals": signals},
    )
    response.raise_for_status()
    await wait_for_counts(http, prefix, keys, signals)
    return signals / (time.perf_counter() - started)


async def from_http_api(
    http: httpx.AsyncClient, keys: int, signals: int, concurrency: int
) -> float:
    prefix = f"h{uuid.uuid4().hex[:8]}-"
    pending = iter(range(signals))

    async def sender() -> None:
        for index in pending:
            response = await http.post(
                f"{WEBHOOK}/entities/Counter/{prefix}{index % keys}", params={"op": "add"}, json=1
            )
            if response.status_code != 202:
                raise SystemExit(f"signal refused: {response.status_code} {response.text}")

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    await wait_for_counts(http, prefix, keys, signals)
    return signals / (time.perf_counter() - started)


async def run(devhost: Devhost, args: argparse.Namespace) -> None:
    async with httpx.AsyncClient(
        base_url=devhost.base_url, headers=devhost.durable_headers, timeout=120
    ) as http:
        for keys in (1, 1000):
            for label in ("orchestrator", "HTTP API"):
                rates = []
                for _ in range(args.rounds):
                    if label == "orchestrator":
                        rates.append(await from_orchestrator(http, devhost, keys, args.signals))
                    else:
                        rates.append(
                            await from_http_api(http, keys, args.signals, args.concurrency)
                        )
                print(
                    f"{args.signals} signals to {keys} entit{'y' if keys == 1 else 'ies'} from the "
                    f"{label}: median {statistics.median(rates):,.0f} operations/s "
                    f"(rounds: {', '.join(f'{rate:,.0f}' for rate in rates)})",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with start_devhost(APP, time_skipping=False) as devhost:
        asyncio.run(run(devhost, args))


if __name__ == "__main__":
    main()
