"""Model-call throughput at a fixed concurrency, against the bound N x L / C.

    .venv/bin/python bench/transport.py [--queries 2000] [--concurrency 64] [--latency-ms 100]
                                        [--scenarios raw,sdk-httpx,...] [--repeat 1]

Starts the model simulator as a separate process (``python -m devhost.simulator --port P
--latency-ms L``), then sends N distinct queries through each scenario in turn:

- ``raw-aiohttp``: bare aiohttp POSTs with a semaphore of C: the floor this machine and the
  simulator allow, with no SDK at all.
- ``sdk-httpx`` / ``sdk-aiohttp``: a plain asyncio script with the ``openai`` SDK (its defaults,
  retries off) and a semaphore of C, on the default httpx transport and on ``DefaultAioHttpClient``.
- ``guide-loop``: the production guide's loop, batches of 10 one after another with
  ``asyncio.gather``; it never has more than 10 calls in flight, so it cannot beat N x L / 10.
- ``runner-httpx`` / ``runner-aiohttp``: ``AgentRunner`` (Agent Framework agent, the summarizer
  from agents.yaml) over ``ModelConnection`` with a semaphore of C.
- ``conn-sdk`` / ``conn-direct``: ``client.chat.completions.create`` on a ``ModelConnection`` over
  aiohttp, through the SDK's own post and through ``agentops.model.direct_post``: the SDK's
  per-request cost against the direct path's. ``runner-aiohttp-sdk`` is ``runner-aiohttp`` with
  the direct path off.

Rounds alternate the scenarios (``--repeat``); with more than one, the medians of wall time and
of CPU per request are printed per scenario.

Prints one row per run: wall time, the bound, the ratio, requests per second, this process's CPU
time per request (the client's own cost; the simulator's CPU is in another process), and errors.
Every scenario must get N answers from the simulator, or the row shows the errors.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
from openai import AsyncOpenAI, DefaultAioHttpClient
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from agentops.agents.registry import AgentRegistry  # noqa: E402
from agentops.agents.runner import AgentRunner  # noqa: E402
from agentops.model.openai_client import ModelConnection, Transport  # noqa: E402
from devhost.testing import free_port  # noqa: E402

AGENT = "summarizer"
API_KEY = "bench"
GUIDE_BATCH = 10


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    wall_s: float
    bound_s: float
    cpu_s: float
    ok: int
    errors: int


Call = Callable[[int], Awaitable[None]]


class Bench:
    def __init__(self, base_url: str, queries: int, concurrency: int, latency_s: float) -> None:
        self.base_url = base_url
        self.n = queries
        self.c = concurrency
        self.latency_s = latency_s
        self.registry = AgentRegistry.from_yaml(ROOT / "agents.yaml")
        self.agent = self.registry.get(AGENT)

    def query(self, i: int) -> str:
        return f"Query {i}: summarise the quarterly figures for region {i % 97}."

    def messages(self, i: int) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.agent.instructions},
            {"role": "user", "content": self.query(i)},
        ]

    async def run(self, name: str) -> Row:
        await self._reset()
        scenario = getattr(self, "_" + name.replace("-", "_"))
        cpu0, t0 = time.process_time(), time.perf_counter()
        ok, errors = await scenario()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        served = await self._served()
        if served != ok:
            print(f"  {name}: the simulator answered {served} requests, client saw {ok} ok")
        # One bound for every row, so the guide loop's narrow window shows in its ratio.
        bound = self.n * self.latency_s / self.c
        return Row(name, wall, bound, cpu, ok, errors)

    async def _gather_bounded(self, call: Call) -> tuple[int, int]:
        semaphore = asyncio.Semaphore(self.c)
        errors = 0

        async def one(i: int) -> None:
            nonlocal errors
            async with semaphore:
                try:
                    await call(i)
                except Exception as exc:
                    errors += 1
                    if errors <= 3:
                        print(f"  error: {type(exc).__name__}: {exc}"[:200])

        await asyncio.gather(*(one(i) for i in range(self.n)))
        return self.n - errors, errors

    async def _raw_aiohttp(self) -> tuple[int, int]:
        connector = aiohttp.TCPConnector(limit=self.c)
        headers = {"authorization": f"Bearer {API_KEY}"}
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

            async def call(i: int) -> None:
                body = {
                    "model": self.agent.deployment,
                    "messages": self.messages(i),
                    "max_tokens": self.agent.max_output_tokens,
                }
                url = f"{self.base_url}/chat/completions"
                async with session.post(url, json=body) as response:
                    response.raise_for_status()
                    await response.json()

            return await self._gather_bounded(call)

    def _sdk(self, transport: Transport) -> AsyncOpenAI:
        # A plain script: the SDK's defaults, except its retries, which would hide errors here.
        if transport is Transport.AIOHTTP:
            return AsyncOpenAI(
                base_url=self.base_url,
                api_key=API_KEY,
                max_retries=0,
                http_client=DefaultAioHttpClient(),
            )
        return AsyncOpenAI(base_url=self.base_url, api_key=API_KEY, max_retries=0)

    async def _sdk_scenario(self, transport: Transport) -> tuple[int, int]:
        client = self._sdk(transport)

        async def call(i: int) -> None:
            await client.chat.completions.create(
                model=self.agent.deployment,
                messages=self.messages(i),  # type: ignore[arg-type]
                max_tokens=self.agent.max_output_tokens,
            )

        try:
            return await self._gather_bounded(call)
        finally:
            await client.close()

    async def _sdk_httpx(self) -> tuple[int, int]:
        return await self._sdk_scenario(Transport.HTTPX)

    async def _sdk_aiohttp(self) -> tuple[int, int]:
        return await self._sdk_scenario(Transport.AIOHTTP)

    async def _guide_loop(self) -> tuple[int, int]:
        client = self._sdk(Transport.HTTPX)
        ok = errors = 0
        try:
            for start in range(0, self.n, GUIDE_BATCH):
                results = await asyncio.gather(
                    *(
                        client.chat.completions.create(
                            model=self.agent.deployment,
                            messages=self.messages(i),  # type: ignore[arg-type]
                            max_tokens=self.agent.max_output_tokens,
                        )
                        for i in range(start, min(start + GUIDE_BATCH, self.n))
                    ),
                    return_exceptions=True,
                )
                failed = sum(isinstance(result, BaseException) for result in results)
                errors += failed
                ok += len(results) - failed
        finally:
            await client.close()
        return ok, errors

    def _connection(self, transport: Transport, *, direct: bool = True) -> ModelConnection:
        connection = ModelConnection.openai_compatible(
            base_url=self.base_url,
            api_key=SecretStr(API_KEY),
            timeout_s=60,
            transport=transport,
        )
        if not direct:  # the SDK's own post, as before agentops.model.direct_post
            client = connection.client
            client.chat.completions._post = client.post  # type: ignore[method-assign]
        return connection

    async def _conn_scenario(self, *, direct: bool) -> tuple[int, int]:
        connection = self._connection(Transport.AIOHTTP, direct=direct)
        completions = connection.client.chat.completions

        async def call(i: int) -> None:
            await completions.create(
                model=self.agent.deployment,
                messages=self.messages(i),  # type: ignore[arg-type]
                max_tokens=self.agent.max_output_tokens,
                stream=False,
            )

        try:
            return await self._gather_bounded(call)
        finally:
            await connection.aclose()

    async def _conn_sdk(self) -> tuple[int, int]:
        return await self._conn_scenario(direct=False)

    async def _conn_direct(self) -> tuple[int, int]:
        return await self._conn_scenario(direct=True)

    async def _runner_scenario(
        self, transport: Transport, *, direct: bool = True
    ) -> tuple[int, int]:
        connection = self._connection(transport, direct=direct)
        runner = AgentRunner(self.registry, connection)

        async def call(i: int) -> None:
            await runner.invoke(self.registry.request_for(AGENT, "bench", self.query(i)))

        try:
            return await self._gather_bounded(call)
        finally:
            await connection.aclose()

    async def _runner_httpx(self) -> tuple[int, int]:
        return await self._runner_scenario(Transport.HTTPX)

    async def _runner_aiohttp(self) -> tuple[int, int]:
        return await self._runner_scenario(Transport.AIOHTTP)

    async def _runner_aiohttp_sdk(self) -> tuple[int, int]:
        return await self._runner_scenario(Transport.AIOHTTP, direct=False)

    async def _reset(self) -> None:
        async with httpx.AsyncClient() as client:
            response = await client.post(self._control("/sim/reset"))
            response.raise_for_status()

    async def _served(self) -> int:
        async with httpx.AsyncClient() as client:
            response = await client.get(self._control("/sim/stats"))
            response.raise_for_status()
            return int(response.json()["by_status"].get("200", 0))

    def _control(self, path: str) -> str:
        return self.base_url.removesuffix("/v1") + path


SCENARIOS = [
    "raw-aiohttp",
    "sdk-httpx",
    "sdk-aiohttp",
    "guide-loop",
    "runner-httpx",
    "runner-aiohttp",
    "runner-aiohttp-sdk",
    "conn-sdk",
    "conn-direct",
]


def start_simulator(port: int, latency_ms: float) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "devhost.simulator",
        "--port",
        str(port),
        "--latency-ms",
        str(latency_ms),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"simulator exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/sim/health", timeout=0.5).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("simulator did not start within 20 s")


def print_rows(rows: list[Row], n: int) -> None:
    print()
    header = (
        f"{'scenario':<16}{'wall s':>9}{'bound s':>9}{'x bound':>9}{'req/s':>9}"
        f"{'cpu ms/req':>12}{'errors':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.scenario:<16}{row.wall_s:>9.2f}{row.bound_s:>9.2f}"
            f"{row.wall_s / row.bound_s:>9.2f}{row.ok / row.wall_s:>9.0f}"
            f"{1000 * row.cpu_s / n:>12.2f}{row.errors:>8}"
        )


async def main_async(args: argparse.Namespace, base_url: str) -> list[Row]:
    bench = Bench(base_url, args.queries, args.concurrency, args.latency_ms / 1000)
    rows: list[Row] = []
    for round_ in range(args.repeat):
        for name in args.scenarios:
            row = await bench.run(name)
            print(
                f"round {round_ + 1} {name}: {row.wall_s:.2f} s "
                f"({row.wall_s / row.bound_s:.2f}x bound), {row.errors} errors",
                flush=True,
            )
            rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--port", type=int, default=0, help="simulator port; 0 picks a free one")
    parser.add_argument(
        "--scenarios",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=SCENARIOS,
    )
    args = parser.parse_args()
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {SCENARIOS}")
    port = args.port or free_port()
    simulator = start_simulator(port, args.latency_ms)
    try:
        print(
            f"N={args.queries} C={args.concurrency} L={args.latency_ms:g} ms, "
            f"simulator pid {simulator.pid} on port {port}",
            flush=True,
        )
        rows = asyncio.run(main_async(args, f"http://127.0.0.1:{port}/v1"))
    finally:
        simulator.terminate()
        try:
            simulator.wait(timeout=5)
        except subprocess.TimeoutExpired:
            simulator.kill()
    print_rows(rows, args.queries)
    if args.repeat > 1:
        print("\nmedians per scenario:")
        for name in args.scenarios:
            walls = [row.wall_s for row in rows if row.scenario == name]
            cpus = [1000 * row.cpu_s / args.queries for row in rows if row.scenario == name]
            bound = next(row.bound_s for row in rows if row.scenario == name)
            median = statistics.median(walls)
            print(
                f"  {name:<20}{median:>8.2f} s  {median / bound:>5.2f}x bound"
                f"  {statistics.median(cpus):>6.3f} ms CPU/req"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
