"""CPU per item of an agent run, in-process, split by layer: the OpenAI SDK's call alone, the
Agent Framework agent with our runner, and the model gateway around it.

No network: the SDK's httpx client has a ``MockTransport`` that answers every chat completion at
once with a canned body (a tool call first for an agent with tools, then text), so what is
measured is the Python on the item's path, not the endpoint. Each variant runs N distinct items,
``--concurrency`` at a time as ``BatchService`` runs them (one task per item under a semaphore).
Variants:

- ``sdk``: ``chat.completions.create`` with the request the agent sends (the HTTP call alone,
  the mock transport included; one call per model round trip of the agent);
- ``af``: ``AgentRunner.invoke`` with its agents built as Agent Framework builds them by default
  (``Agent`` over ``OpenAIChatCompletionClient``, every layer, synchronous tools run in a worker
  thread): the reference for what ``agentops.agents.layers`` and ``strict_tools`` save;
- ``runner``: ``AgentRunner.invoke``: the agent built once, an ``ItemGuard`` and ``Agent.run``
  per item, over the same SDK client;
- ``gateway``: ``ModelGateway.call`` around the runner, as the batch activity calls it, with its
  cache kept in process and in-process usage counters (no store: that cost is
  bench/item_store_path.py's), limiter and breaker on.

Agents: ``summarizer`` (no tools, one model call per item) and ``calculator`` (tools: a call to
``add``, then the answer; two model calls per item). Variants alternate within each round and the
medians over rounds are printed, with the layers as differences: Agent Framework plus runner is
``runner - sdk`` (``af - sdk`` with Agent Framework's default build), the gateway is
``gateway - runner``. It also prints the asyncio tasks each item creates, the pieces changed on
a tool agent's path timed on their own (best of repeats, the figure least disturbed by other
load on a shared machine) and, with ``--profile``, one profiled round of ``gateway`` per agent
with its CPU grouped by package (self time).

With ``--telemetry`` the OpenTelemetry SDK's tracer and meter providers are installed (in-memory
exporters) and Agent Framework's instrumentation is on, as ``agentops.telemetry`` does when
telemetry is configured: that is its cost, measured on its own.

    .venv/bin/python bench/agent_run_cost.py [--items 2000] [--rounds 5] [--concurrency 32]
        [--agents summarizer,calculator] [--telemetry] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
sys.path.insert(0, str(ROOT / "bench"))

import httpx2  # noqa: E402
from agent_framework import Agent, tool  # noqa: E402
from agent_framework.observability import OBSERVABILITY_SETTINGS  # noqa: E402
from agent_framework.openai import OpenAIChatCompletionClient  # noqa: E402
from gateway_overhead import InProcessUsage  # noqa: E402
from openai import AsyncOpenAI  # noqa: E402

from agentops.agents import runner as runner_module  # noqa: E402
from agentops.agents.registry import AgentRegistry  # noqa: E402
from agentops.agents.runner import AgentRunner  # noqa: E402
from agentops.agents.strict_tools import arguments_model, strict_tool  # noqa: E402
from agentops.model.breaker import BreakerRegistry  # noqa: E402
from agentops.model.budgets import BudgetLimit, Budgets  # noqa: E402
from agentops.model.cache import ResponseCache  # noqa: E402
from agentops.model.gateway import ModelGateway  # noqa: E402
from agentops.model.openai_client import ModelConnection, Transport  # noqa: E402
from agentops.model.pricing import PriceTable  # noqa: E402
from agentops.model.rate_limiter import RateLimiter, RateLimits  # noqa: E402
from agentops.model.retry import RetryPolicy  # noqa: E402
from agentops.model.types import ModelRequest  # noqa: E402

AGENTS = ROOT / "agents.yaml"
TENANT = "contoso"
VARIANTS = ("sdk", "af", "runner", "gateway")
USAGE = {"prompt_tokens": 60, "completion_tokens": 12, "total_tokens": 72}


def canned_answer(request: httpx2.Request) -> httpx2.Response:
    """A chat completion: a call to ``add`` when tools are offered and the last message is the
    user's, else text."""
    body = json.loads(request.content)
    if body.get("tools") and body["messages"][-1]["role"] == "user":
        call = {"name": "add", "arguments": '{"a": 17, "b": 23}'}
        tool_call = {"id": "call_1", "type": "function", "function": call}
        message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [tool_call]}
        finish = "tool_calls"
    else:
        message, finish = {"role": "assistant", "content": "The answer is forty."}, "stop"
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": USAGE,
        },
    )


def mock_connection() -> ModelConnection:
    client = AsyncOpenAI(
        base_url="http://model.test/v1",
        api_key="bench-key",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(canned_answer)),
    )
    return ModelConnection(client, label="mock", transport=Transport.HTTPX)


def make_gateway(runner: AgentRunner) -> ModelGateway:
    unlimited = BudgetLimit(tokens=10**15, cost=10.0**12)
    return ModelGateway(
        runner.invoke,
        prices=PriceTable(),
        cache=ResponseCache(None, max_entries=100_000),
        budgets=Budgets(
            InProcessUsage(),
            tenants={TENANT: unlimited},
            agents={"calculator": unlimited, "summarizer": unlimited},
        ),
        # Limits the run never reaches: the limiter's bookkeeping runs, it never waits.
        limiter=RateLimiter({"gpt-4o-mini": RateLimits(rpm=10**9, tpm=10**12)}),
        breakers=BreakerRegistry(),
        policy=RetryPolicy(),
    )


class Bench:
    """One runner and gateway over one mock connection; fresh queries for every run."""

    def __init__(self, concurrency: int) -> None:
        self.registry = AgentRegistry.from_yaml(AGENTS)
        self.connection = mock_connection()
        self.runner = AgentRunner(self.registry, self.connection)
        self.default_build = AgentRunner(self.registry, self.connection)
        self.gateway = make_gateway(self.runner)
        self.concurrency = concurrency
        self._serial = 0

    def requests(self, agent: str, items: int) -> list[ModelRequest]:
        self._serial += 1
        base = self.registry.request_for(agent, TENANT, "What is 17 plus 23?")
        return [replace(base, query=f"{base.query} #{self._serial}.{i}") for i in range(items)]

    async def build_defaults(self, agents: list[str]) -> None:
        """Build ``default_build``'s agents with Agent Framework's default classes and tools;
        the runner keeps them for the rest of the process."""
        with (
            mock.patch.object(runner_module, "agent_class", lambda traced: Agent),
            mock.patch.object(
                runner_module, "client_class", lambda traced, tools: OpenAIChatCompletionClient
            ),
            mock.patch.object(
                runner_module, "strict_tool", lambda f: tool(f, schema=arguments_model(f))
            ),
        ):
            for agent in agents:
                await self.default_build.invoke(self.requests(agent, 1)[0])

    def item(self, variant: str, agent: str) -> Callable[[ModelRequest], Awaitable[Any]]:
        if variant == "runner":
            return self.runner.invoke
        if variant == "af":
            return self.default_build.invoke
        if variant == "gateway":
            return self.gateway.call
        definition = self.registry.get(agent)
        tools = sdk_tools(self.registry, agent)
        completions = self.connection.client.chat.completions

        async def sdk(request: ModelRequest) -> Any:
            # The agent's round trips as the SDK alone makes them.
            messages: list[dict[str, Any]] = [
                {"role": "system", "content": definition.instructions},
                {"role": "user", "content": request.query},
            ]
            extra: dict[str, Any] = {"tools": tools} if tools else {}
            options = {"temperature": definition.temperature} if definition.temperature else {}
            while True:
                answer = await completions.create(
                    model=request.deployment,
                    messages=messages,
                    max_tokens=request.max_output_tokens,
                    **options,
                    **extra,
                )
                message = answer.choices[0].message
                if not message.tool_calls:
                    return answer
                messages.append(message.model_dump(exclude_none=True))
                for call in message.tool_calls:
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": "40"})

        return sdk

    async def run(self, variant: str, agent: str, items: int) -> float:
        """CPU seconds for ``items`` items of ``agent`` through ``variant``."""
        call = self.item(variant, agent)
        requests = self.requests(agent, items)
        limit = asyncio.Semaphore(self.concurrency)

        async def one(request: ModelRequest) -> Any:
            async with limit:
                return await call(request)

        start = time.process_time()
        answers = await asyncio.gather(*(one(request) for request in requests))
        spent = time.process_time() - start
        check(variant, answers)
        return spent


def sdk_tools(registry: AgentRegistry, agent: str) -> list[dict[str, Any]]:
    functions = registry.tool_functions(agent)
    return [strict_tool(function).to_json_schema_spec() for function in functions]


def check(variant: str, answers: list[Any]) -> None:
    """Every item answered as the canned endpoint answers: a bench of failures measures
    nothing."""
    for answer in answers:
        text = answer.choices[0].message.content if variant == "sdk" else answer.text
        if text != "The answer is forty.":
            raise AssertionError(f"{variant}: unexpected answer {answer!r}")


def count_tasks(loop: asyncio.AbstractEventLoop) -> Counter[str]:
    """Counts the tasks created on ``loop`` from now on, by the coroutine's name."""
    counts: Counter[str] = Counter()

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        counts[getattr(coro, "__qualname__", type(coro).__name__)] += 1
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(factory)
    return counts


def grouped_profile(profile: cProfile.Profile) -> list[tuple[str, float]]:
    """Self time by package, largest first."""
    groups: Counter[str] = Counter()
    stats = pstats.Stats(profile)
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        groups[package_of(filename, name)] += tottime
    return groups.most_common()


def package_of(filename: str, name: str) -> str:
    path = filename.replace("\\", "/")
    for marker, label in (
        ("agent_framework/observability", "agent_framework telemetry"),
        ("agent_framework/_telemetry", "agent_framework telemetry"),
        ("agent_framework/_middleware", "agent_framework middleware"),
        ("agent_framework/_tools", "agent_framework function invocation, tools"),
        ("agent_framework_openai", "agent_framework openai client"),
        ("agent_framework/", "agent_framework other"),
        ("/openai/", "openai SDK"),
        ("/httpx2/", "httpx2 (mock transport)"),
        ("/httpcore", "httpcore"),
        ("/pydantic", "pydantic"),
        ("/opentelemetry/", "opentelemetry"),
        ("agentops/agents/", "agentops.agents (runner)"),
        ("agentops/model/", "agentops.model (gateway)"),
        ("agentops/", "agentops other"),
        ("/asyncio/", "asyncio"),
        ("/json/", "json"),
        ("/typing", "typing"),
    ):
        if marker in path:
            return label
    if filename == "~":
        return f"builtins ({name.split(' ')[-1].strip('>')[:40]})"
    return "other"


def install_telemetry() -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    OBSERVABILITY_SETTINGS.enable_instrumentation = True


async def piece_costs(registry: AgentRegistry, repeats: int = 7, number: int = 200) -> None:
    """The pieces this app changed on a tool agent's path, on their own: best of ``repeats``
    timings (the least disturbed by other load) of ``number`` runs each, CPU us per item."""
    from agent_framework._types import _capture_evaluation_tools

    from agentops.agents.tool_record import ToolRecordOnce

    functions = registry.tool_functions("calculator")
    tools = [strict_tool(function) for function in functions]
    threaded = tool(functions[0], schema=arguments_model(functions[0]))
    layer = ToolRecordOnce()

    def af_record() -> None:  # an item's two calls, as Agent Framework records them
        record: dict[str, Any] = {}
        _capture_evaluation_tools(record, tools)
        _capture_evaluation_tools(record, tools)

    def our_record() -> None:
        record: dict[str, Any] = {}
        layer._record_tools(record, tools)
        layer._record_tools(record, tools)

    async def best(job: Callable[[], Any]) -> float:
        timings = []
        for _ in range(repeats):
            start = time.process_time()
            for _ in range(number):
                result = job()
                if asyncio.iscoroutine(result):
                    await result
            timings.append((time.process_time() - start) / number * 1e6)
        return min(timings)

    arguments = {"a": 17, "b": 23}
    rows = [
        ("tool record, 10 tools x 2 calls: Agent Framework", await best(af_record)),
        ("tool record, 10 tools x 2 calls: ToolRecordOnce", await best(our_record)),
        (
            "one tool call: Agent Framework (worker thread)",
            await best(lambda: threaded.invoke(arguments=arguments)),
        ),
        (
            "one tool call: strict_tool (event loop)",
            await best(lambda: tools[0].invoke(arguments=arguments)),
        ),
    ]
    print("\npieces, CPU us per item (best of repeats):")
    for label, micros in rows:
        print(f"  {label:<50} {micros:8.1f}")


async def main(args: argparse.Namespace) -> None:
    OBSERVABILITY_SETTINGS.enable_instrumentation = False
    if args.telemetry:
        install_telemetry()
    bench = Bench(args.concurrency)
    agents = args.agents.split(",")
    await bench.build_defaults(agents)
    for agent in agents:  # warm-up: agents built, code paths taken once
        for variant in VARIANTS:
            await bench.run(variant, agent, min(200, args.items))
    samples: dict[tuple[str, str], list[float]] = {
        (agent, variant): [] for agent in agents for variant in VARIANTS
    }
    for _ in range(args.rounds):
        for agent in agents:
            for variant in VARIANTS:
                spent = await bench.run(variant, agent, args.items)
                samples[(agent, variant)].append(spent / args.items * 1e6)

    mode = (
        "telemetry on (SDK providers, Agent Framework instrumentation)"
        if args.telemetry
        else ("no telemetry configured")
    )
    print(
        f"CPU per item, us (median of {args.rounds} rounds of {args.items} items, "
        f"concurrency {args.concurrency}; {mode})"
    )
    print(
        f"{'agent':<12} {'sdk':>7} {'af':>7} {'runner':>7} {'gateway':>7} | "
        f"{'AF default':>10} {'AF+runner':>10} {'gateway':>8}"
    )
    for agent in agents:
        sdk, af, runner, gateway = (statistics.median(samples[(agent, v)]) for v in VARIANTS)
        print(
            f"{agent:<12} {sdk:7.0f} {af:7.0f} {runner:7.0f} {gateway:7.0f} | "
            f"{af - sdk:10.0f} {runner - sdk:10.0f} {gateway - runner:8.0f}"
        )

    loop = asyncio.get_running_loop()
    for agent in agents:
        counts = count_tasks(loop)
        await bench.run("gateway", agent, args.items)
        loop.set_task_factory(None)
        per_item = {name: n / args.items for name, n in counts.most_common()}
        shown = ", ".join(f"{name} {n:.2f}" for name, n in per_item.items())
        print(f"tasks per item, {agent} via gateway: {sum(per_item.values()):.2f} ({shown})")

    if "calculator" in agents:
        await piece_costs(bench.registry)

    if args.profile:
        for agent in agents:
            profile = cProfile.Profile()
            profile.enable()
            await bench.run("gateway", agent, args.items)
            profile.disable()
            total = sum(seconds for _, seconds in grouped_profile(profile))
            print(f"\nprofile, {agent} via gateway (self time per item, us; profiler inflates):")
            for label, seconds in grouped_profile(profile)[:16]:
                print(f"  {label:<45} {seconds / args.items * 1e6:8.1f}")
            print(f"  {'total':<45} {total / args.items * 1e6:8.1f}")
    await bench.connection.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--agents", default="summarizer,calculator")
    parser.add_argument("--telemetry", action="store_true")
    parser.add_argument("--profile", action="store_true")
    asyncio.run(main(parser.parse_args()))
