"""AgentRunner against the devhost model simulator, served by uvicorn on a free loopback port.

Real Agent Framework agents, the real OpenAI SDK over both transports, real HTTP. The simulator's
deterministic answers and tool-call convention are documented in ``devhost.simulator.answers``
and ``devhost.simulator.tools``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.credentials import AccessToken
from pydantic import SecretStr

from agentops.agents.definitions import parse_agents
from agentops.agents.registry import AgentRegistry, UnknownAgentError
from agentops.agents.runner import AgentRunner
from agentops.agents.tools import BUILTIN_TOOLS
from agentops.model.openai_client import ModelConnection, Transport
from agentops.model.stream_events import StreamItem, TextDelta, ToolCalled, ToolReturned
from agentops.model.types import (
    ChatMessage,
    ModelAnswer,
    PermanentModelError,
    TransientModelError,
    Usage,
)
from devhost.simulator.config import SimulatorConfig
from devhost.simulator.server import RunningSimulator, serve_in_background

REPO_AGENTS = Path(__file__).resolve().parents[3] / "agents.yaml"
DEPLOYMENT = "gpt-4o-mini"

Start = Callable[..., Awaitable[RunningSimulator]]


@pytest.fixture
async def start_simulator() -> AsyncIterator[Start]:
    """Start simulators with a given config; every one stops when the test ends."""
    async with AsyncExitStack() as stack:

        async def start(**config: Any) -> RunningSimulator:
            return await stack.enter_async_context(
                serve_in_background(SimulatorConfig.model_validate(config))
            )

        yield start


@pytest.fixture
def registry() -> AgentRegistry:
    return AgentRegistry.from_yaml(REPO_AGENTS)


@pytest.fixture
async def runner_for(registry: AgentRegistry) -> AsyncIterator[Callable[..., AgentRunner]]:
    """Runners over fresh connections, closed after the test."""
    connections: list[ModelConnection] = []

    def make(
        sim: RunningSimulator,
        *,
        transport: Transport = Transport.HTTPX,
        timeout_s: float = 5.0,
        api_key: str = "local",
        agents: AgentRegistry | None = None,
    ) -> AgentRunner:
        connection = ModelConnection.openai_compatible(
            base_url=sim.url, api_key=SecretStr(api_key), timeout_s=timeout_s, transport=transport
        )
        connections.append(connection)
        return AgentRunner(agents or registry, connection)

    yield make
    for connection in connections:
        await connection.aclose()


async def _stats(sim: RunningSimulator) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://{sim.host}:{sim.port}/sim/stats")
        response.raise_for_status()
        return response.json()


def _echo(query: str) -> str:
    """The simulator's documented text answer for a last user message ``query``."""
    return f'Simulated answer {hashlib.sha256(query.encode()).hexdigest()[:8]}: "{query}".'


@pytest.mark.parametrize("transport", list(Transport))
async def test_plain_answer_with_reported_usage(
    start_simulator: Start,
    runner_for: Callable[..., AgentRunner],
    registry: AgentRegistry,
    transport: Transport,
) -> None:
    sim = await start_simulator()
    runner = runner_for(sim, transport=transport)
    answer = await runner.invoke(registry.request_for("summarizer", "t1", "The sky is blue."))
    assert answer.text == _echo("The sky is blue.")
    assert answer.model == DEPLOYMENT
    assert answer.model_calls == 1
    assert answer.cached is False
    stats = await _stats(sim)
    assert stats["requests"] == 1
    assert answer.usage.prompt_tokens == stats["tokens"]["prompt"] > 0
    assert answer.usage.completion_tokens == stats["tokens"]["completion"] > 0


@pytest.mark.parametrize("transport", list(Transport))
async def test_tool_agent_runs_the_python_tool_and_sums_usage(
    start_simulator: Start,
    runner_for: Callable[..., AgentRunner],
    registry: AgentRegistry,
    transport: Transport,
) -> None:
    sim = await start_simulator()
    runner = runner_for(sim, transport=transport)
    # The simulator only quotes tool results: 437 can come from nowhere but our multiply.
    answer = await runner.invoke(registry.request_for("calculator", "t1", "multiply 19 and 23"))
    assert answer.text == "Tool results: multiply returned 437."
    assert answer.model_calls == 2
    stats = await _stats(sim)
    assert stats["requests"] == 2
    assert answer.usage.prompt_tokens == stats["tokens"]["prompt"]
    assert answer.usage.completion_tokens == stats["tokens"]["completion"]


async def test_tools_with_typed_arguments(
    start_simulator: Start, runner_for: Callable[..., AgentRunner], registry: AgentRegistry
) -> None:
    runner = runner_for(await start_simulator())
    cases = {
        "weekday day=2024-01-01": "Tool results: weekday returned Monday.",
        "add 3 days to 2024-02-27": "Tool results: add_days returned 2024-03-01.",
        "convert 100 C to F": ("Tool results: convert_temperature returned 212.0."),
    }
    for query, expected in cases.items():
        answer = await runner.invoke(registry.request_for("calculator", "t1", query))
        assert answer.text == expected


async def test_conversation_history_reaches_the_model(
    start_simulator: Start, runner_for: Callable[..., AgentRunner], registry: AgentRegistry
) -> None:
    runner = runner_for(await start_simulator())
    alone = await runner.invoke(registry.request_for("summarizer", "t1", "And then?"))
    history = (
        ChatMessage("user", "Tell me a long story about a lighthouse keeper " * 10),
        ChatMessage("assistant", "Once upon a time there was a lighthouse keeper " * 10),
    )
    followed = await runner.invoke(registry.request_for("summarizer", "t1", "And then?", history))
    assert followed.text == alone.text == _echo("And then?")
    history_chars = sum(len(message.text) for message in history)
    # About four characters a token: the two turns add at least 150 prompt tokens.
    assert followed.usage.prompt_tokens - alone.usage.prompt_tokens >= history_chars // 4 - 10


@pytest.mark.parametrize("transport", list(Transport))
async def test_429_is_transient_with_retry_after_ms(
    start_simulator: Start,
    runner_for: Callable[..., AgentRunner],
    registry: AgentRegistry,
    transport: Transport,
) -> None:
    sim = await start_simulator(faults={"schedule": [{"fault": "429"}], "retry_after_ms": 1500})
    runner = runner_for(sim, transport=transport)
    with pytest.raises(TransientModelError) as caught:
        await runner.invoke(registry.request_for("summarizer", "t1", "hello"))
    assert caught.value.status == 429
    assert caught.value.retry_after_s == pytest.approx(1.5)
    assert (await _stats(sim))["requests"] == 1, "the SDK must not retry on its own"


@pytest.mark.parametrize("transport", list(Transport))
@pytest.mark.parametrize("fault", ["500", "503"])
async def test_server_errors_are_transient(
    start_simulator: Start,
    runner_for: Callable[..., AgentRunner],
    registry: AgentRegistry,
    fault: str,
    transport: Transport,
) -> None:
    sim = await start_simulator(faults={"schedule": [{"fault": fault}]})
    with pytest.raises(TransientModelError) as caught:
        await runner_for(sim, transport=transport).invoke(
            registry.request_for("summarizer", "t1", "hello")
        )
    assert caught.value.status == int(fault)
    assert (await _stats(sim))["requests"] == 1


@pytest.mark.parametrize("transport", list(Transport))
async def test_timeout_is_transient_and_bounded_by_the_connection_timeout(
    start_simulator: Start,
    runner_for: Callable[..., AgentRunner],
    registry: AgentRegistry,
    transport: Transport,
) -> None:
    sim = await start_simulator(faults={"schedule": [{"fault": "timeout"}], "timeout_s": 10})
    runner = runner_for(sim, timeout_s=0.3, transport=transport)
    started = time.monotonic()
    with pytest.raises(TransientModelError) as caught:
        await runner.invoke(registry.request_for("summarizer", "t1", "hello"))
    assert caught.value.reason.startswith("timeout")
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("transport", list(Transport))
async def test_dropped_connection_is_transient(
    start_simulator: Start,
    runner_for: Callable[..., AgentRunner],
    registry: AgentRegistry,
    transport: Transport,
) -> None:
    sim = await start_simulator(faults={"schedule": [{"fault": "drop"}]})
    with pytest.raises(TransientModelError) as caught:
        await runner_for(sim, transport=transport).invoke(
            registry.request_for("summarizer", "t1", "hello")
        )
    assert caught.value.reason.startswith(("connection failed", "timeout"))
    assert caught.value.status is None


async def test_recovers_after_a_transient_fault(
    start_simulator: Start, runner_for: Callable[..., AgentRunner], registry: AgentRegistry
) -> None:
    sim = await start_simulator(faults={"schedule": [{"fault": "drop", "requests": 1}]})
    runner = runner_for(sim)
    request = registry.request_for("summarizer", "t1", "hello")
    with pytest.raises(TransientModelError):
        await runner.invoke(request)
    assert (await runner.invoke(request)).text == _echo("hello")


async def test_content_filter_is_permanent(
    start_simulator: Start, runner_for: Callable[..., AgentRunner], registry: AgentRegistry
) -> None:
    runner = runner_for(await start_simulator())
    query = "please [simulate-content-filter] this"
    with pytest.raises(PermanentModelError) as caught:
        await runner.invoke(registry.request_for("summarizer", "t1", query))
    assert not isinstance(caught.value, TransientModelError)
    assert caught.value.reason.startswith("content filter")
    assert caught.value.status == 400


async def test_wrong_key_is_permanent_401(
    start_simulator: Start, runner_for: Callable[..., AgentRunner], registry: AgentRegistry
) -> None:
    sim = await start_simulator(api_key="right")
    with pytest.raises(PermanentModelError) as caught:
        await runner_for(sim, api_key="wrong").invoke(
            registry.request_for("summarizer", "t1", "hello")
        )
    assert caught.value.status == 401
    assert "Incorrect API key" in caught.value.reason


async def test_unknown_deployment_is_permanent_404(
    start_simulator: Start, runner_for: Callable[..., AgentRunner]
) -> None:
    sim = await start_simulator(strict_deployments=True, deployments=[DEPLOYMENT])
    text = REPO_AGENTS.read_text(encoding="utf-8").replace(DEPLOYMENT, "gpt-retired")
    agents = AgentRegistry(parse_agents(text, BUILTIN_TOOLS))
    with pytest.raises(PermanentModelError) as caught:
        await runner_for(sim, agents=agents).invoke(agents.request_for("summarizer", "t", "hi"))
    assert caught.value.status == 404


async def test_tool_argument_errors_are_permanent_with_the_reason(
    start_simulator: Start, runner_for: Callable[..., AgentRunner], registry: AgentRegistry
) -> None:
    sim = await start_simulator()
    runner = runner_for(sim)
    with pytest.raises(PermanentModelError) as caught:
        await runner.invoke(registry.request_for("calculator", "t1", "divide 1 by 0"))
    assert caught.value.reason == "invalid tool call: divide: division by zero"
    # Schema validation of the model's arguments: 'someday' is no date.
    with pytest.raises(PermanentModelError) as caught:
        await runner.invoke(registry.request_for("calculator", "t1", "weekday of day=someday"))
    assert caught.value.reason == "invalid tool call: weekday: day: expected a date as YYYY-MM-DD"
    # Both calls stopped after the tool: no second model round trip answered around the error.
    assert (await _stats(sim))["requests"] == 2


async def test_a_crashing_tool_fails_the_item(
    start_simulator: Start, runner_for: Callable[..., AgentRunner]
) -> None:
    def lookup_inventory(item: str) -> int:
        """Count the items in stock."""
        raise RuntimeError("database unreachable")

    tools = {**BUILTIN_TOOLS, "lookup_inventory": lookup_inventory}
    text = """
agents:
  - name: stock
    description: Stock levels.
    instructions: Use the tool.
    deployment: gpt-4o-mini
    tools: [lookup_inventory]
"""
    agents = AgentRegistry(parse_agents(text, tools), tools)
    runner = runner_for(await start_simulator(), agents=agents)
    with pytest.raises(PermanentModelError) as caught:
        await runner.invoke(agents.request_for("stock", "t", 'lookup inventory of "bolts"'))
    assert caught.value.reason == "tool lookup_inventory failed: RuntimeError"


async def test_unknown_agent(
    start_simulator: Start, runner_for: Callable[..., AgentRunner], registry: AgentRegistry
) -> None:
    runner = runner_for(await start_simulator())
    request = registry.request_for("summarizer", "t", "hi")
    with pytest.raises(UnknownAgentError):
        await runner.invoke(dataclasses.replace(request, agent="nobody"))


class _StaticTokenCredential:
    """An async Entra ID credential that hands out one fixed token (the simulator's key)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)

    async def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        self.scopes.append(scopes)
        return AccessTokenInfo(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("auth", ["entra", "key"])
async def test_azure_openai_with_entra_id_or_key(
    start_simulator: Start, registry: AgentRegistry, auth: str
) -> None:
    sim = await start_simulator(api_key="secret-token")
    credential = _StaticTokenCredential("secret-token")
    connection = ModelConnection.azure(
        azure_endpoint=sim.azure_endpoint,
        credential=credential if auth == "entra" else None,
        api_key=SecretStr("secret-token") if auth == "key" else None,
        api_version="2024-10-21",
        timeout_s=5,
    )
    try:
        answer = await AgentRunner(registry, connection).invoke(
            registry.request_for("calculator", "t", "add 2 and 3")
        )
    finally:
        await connection.aclose()
    assert answer.text == "Tool results: add returned 5."
    if auth == "entra":
        assert credential.scopes
        assert all(
            s == ("https://cognitiveservices.azure.com/.default",) for s in credential.scopes
        )


def _scripted(name: str, arguments: Any, rounds: int = 1) -> str:
    """A query that makes the simulated model call ``name``, offered or not (see its answers)."""
    script = json.dumps({"name": name, "arguments": arguments, "rounds": rounds})
    return f"[simulate-tool-call {script}]"


def _agents(extra: str, max_output_tokens: int = 64) -> AgentRegistry:
    text = f"""
agents:
  - name: adder
    description: Adds.
    instructions: Use the add tool for every sum, then state the result.
    deployment: gpt-4o-mini
    tools: [add, add_days]
    max_output_tokens: {max_output_tokens}
{extra}
"""
    return AgentRegistry(parse_agents(text, BUILTIN_TOOLS))


async def _spent(sim: RunningSimulator) -> Usage:
    tokens = (await _stats(sim))["tokens"]
    return Usage(tokens["prompt"], tokens["completion"])


async def test_a_tool_call_to_an_agent_without_tools_fails_and_is_billed(
    start_simulator: Start, runner_for: Callable[..., AgentRunner], registry: AgentRegistry
) -> None:
    sim = await start_simulator()
    query = _scripted("add", {"a": 1, "b": 2})
    with pytest.raises(PermanentModelError) as caught:
        await runner_for(sim).invoke(registry.request_for("summarizer", "t1", query))
    assert caught.value.reason == (
        "invalid tool call: the model called tool 'add', but agent summarizer has no tools"
    )
    assert caught.value.usage == await _spent(sim)
    assert caught.value.usage.completion_tokens > 0


async def test_a_call_to_an_undeclared_tool_fails_with_the_name_escaped(
    start_simulator: Start,
    runner_for: Callable[..., AgentRunner],
    caplog: pytest.LogCaptureFixture,
) -> None:
    agents = _agents("")
    sim = await start_simulator()
    runner = runner_for(sim, agents=agents)
    # Declared tools only: multiply exists in the app, but this agent does not have it.
    with pytest.raises(PermanentModelError) as caught:
        await runner.invoke(agents.request_for("adder", "t", _scripted("multiply", {"a": 2})))
    assert caught.value.reason == (
        "invalid tool call: the model called tool 'multiply', which agent adder does not have"
    )
    # Nor is it offered: asked to multiply, the model finds no tool for it and answers in text.
    answer = await runner.invoke(agents.request_for("adder", "t", "multiply 19 and 23"))
    assert answer.text == _echo("multiply 19 and 23")

    forged = "add\r\nERROR agentops.audit: chain broken"
    with caplog.at_level(logging.DEBUG), pytest.raises(PermanentModelError) as caught:
        await runner.invoke(agents.request_for("adder", "t", _scripted(forged, {})))
    assert caught.value.reason == (
        "invalid tool call: the model called tool 'add\\r\\nERROR agentops.audit: chain broken', "
        "which agent adder does not have"
    )
    assert caught.value.usage.total_tokens > 0
    for record in caplog.records:
        if record.name.startswith("agentops"):
            assert "\n" not in record.getMessage() and "\r" not in record.getMessage()


@pytest.mark.parametrize(
    ("tool", "arguments", "reason"),
    [
        ("add", {"a": "2", "b": 3}, "add: a: Input should be a valid number"),
        ("add", {"a": 2, "b": 3, "c": 4}, "add: c: unknown argument"),
        ("add", {"a": True, "b": 3}, "add: a: Input should be a valid number"),
        (
            "add_days",
            {"day": "2024-01-01", "days": 2.0},
            "add_days: days: Input should be a valid integer",
        ),
        (
            "add_days",
            {"day": "2024-01-01", "days": "2"},
            "add_days: days: Input should be a valid integer",
        ),
        (
            "add_days",
            {"day": 1704067200, "days": 2},
            "add_days: day: expected a date as YYYY-MM-DD",
        ),
        (
            "add_days",
            {"day": "20240101", "days": 2},
            "add_days: day: expected a date as YYYY-MM-DD",
        ),
    ],
)
async def test_tool_arguments_are_validated_strictly(
    start_simulator: Start,
    runner_for: Callable[..., AgentRunner],
    tool: str,
    arguments: dict[str, Any],
    reason: str,
) -> None:
    agents = _agents("")
    sim = await start_simulator()
    with pytest.raises(PermanentModelError) as caught:
        await runner_for(sim, agents=agents).invoke(
            agents.request_for("adder", "t", _scripted(tool, arguments))
        )
    assert caught.value.reason == f"invalid tool call: {reason}"
    assert (await _stats(sim))["requests"] == 1, "no second round answers around a bad call"


async def test_json_integers_are_numbers_for_float_parameters(
    start_simulator: Start, runner_for: Callable[..., AgentRunner]
) -> None:
    agents = _agents("")
    runner = runner_for(await start_simulator(), agents=agents)
    answer = await runner.invoke(
        agents.request_for("adder", "t", _scripted("add", {"a": 2, "b": 0.5}))
    )
    assert answer.text == "Tool results: add returned 2.5."
    answer = await runner.invoke(
        agents.request_for("adder", "t", _scripted("add_days", {"day": "2024-02-28", "days": 2}))
    )
    assert answer.text == "Tool results: add_days returned 2024-03-01."


async def test_tool_rounds_past_the_cap_fail_the_item_without_a_final_call(
    start_simulator: Start, runner_for: Callable[..., AgentRunner]
) -> None:
    agents = _agents("    max_tool_rounds: 2")
    sim = await start_simulator()
    runner = runner_for(sim, agents=agents)
    within = await runner.invoke(
        agents.request_for("adder", "t", _scripted("add", {"a": 2, "b": 3}, rounds=2))
    )
    assert within.text == "Tool results: add returned 5."
    assert within.model_calls == 3
    assert within.usage == await _spent(sim)
    await _reset(sim)

    query = _scripted("add", {"a": 2, "b": 3}, rounds=50)
    with pytest.raises(PermanentModelError) as caught:
        await runner.invoke(agents.request_for("adder", "t", query))
    assert caught.value.reason == (
        "tool round limit: the model asked for more than 2 rounds of tool calls"
    )
    # Two rounds ran, the third request for tools was refused: no call with tools switched off.
    assert (await _stats(sim))["requests"] == 3
    assert caught.value.usage == await _spent(sim)


async def test_the_default_round_cap_is_eight(
    start_simulator: Start, runner_for: Callable[..., AgentRunner], registry: AgentRegistry
) -> None:
    sim = await start_simulator()
    query = _scripted("add", {"a": 2, "b": 3}, rounds=50)
    with pytest.raises(PermanentModelError) as caught:
        await runner_for(sim).invoke(registry.request_for("calculator", "t", query))
    assert caught.value.reason.startswith("tool round limit: the model asked for more than 8")
    assert (await _stats(sim))["requests"] == 9


async def test_output_tokens_are_capped_over_all_rounds_of_an_item(
    start_simulator: Start, runner_for: Callable[..., AgentRunner]
) -> None:
    # Each scripted call writes 5 tokens (name and arguments); the answer after them 8.
    agents = _agents("    max_total_output_tokens: 64")
    sim = await start_simulator()
    runner = runner_for(sim, agents=agents)
    answer = await runner.invoke(
        agents.request_for("adder", "t", _scripted("add", {"a": 2, "b": 3}, rounds=3))
    )
    assert answer.text == "Tool results: add returned 5."
    assert answer.usage.completion_tokens == 3 * 5 + 8
    await _reset(sim)

    tight = _agents("    max_total_output_tokens: 16", max_output_tokens=16)
    runner = runner_for(sim, agents=tight)
    with pytest.raises(PermanentModelError) as caught:
        await runner.invoke(
            tight.request_for("adder", "t", _scripted("add", {"a": 2, "b": 3}, rounds=2))
        )
    # 10 tokens on two calls leave 6 for an 8-token answer: cut, so the item fails.
    assert caught.value.reason == (
        "output token limit: the model wrote 16 tokens over 3 calls, the item's limit is 16"
    )
    assert caught.value.usage == await _spent(sim)


async def test_reasons_never_quote_the_instructions(
    start_simulator: Start, runner_for: Callable[..., AgentRunner]
) -> None:
    instructions = "Classified: the launch codes are 0000 and the rota is on the wiki page."
    agents = AgentRegistry(
        parse_agents(
            f"""
agents:
  - name: leaky
    description: Leaks.
    instructions: "{instructions}"
    deployment: gpt-4o-mini
""",
            BUILTIN_TOOLS,
        )
    )
    sim = await start_simulator()
    # The script calls a tool whose name repeats the instructions, as a confused model might.
    with pytest.raises(PermanentModelError) as caught:
        await runner_for(sim, agents=agents).invoke(
            agents.request_for("leaky", "t", _scripted(instructions, {}))
        )
    assert "launch codes" not in caught.value.reason
    assert caught.value.reason == (
        "invalid tool call: the message quoted the request and is withheld"
    )


async def _reset(sim: RunningSimulator) -> None:
    async with httpx.AsyncClient() as client:
        (await client.post(f"http://{sim.host}:{sim.port}/sim/reset")).raise_for_status()


async def test_concurrent_items_keep_their_own_counts(
    start_simulator: Start, runner_for: Callable[..., AgentRunner], registry: AgentRegistry
) -> None:
    runner = runner_for(await start_simulator(latency={"ms": 20}))
    queries = ["multiply 19 and 23", _scripted("add", {"a": 1, "b": 2}, rounds=3), "what is it?"]
    answers = await asyncio.gather(
        *(runner.invoke(registry.request_for("calculator", "t", query)) for query in queries)
    )
    assert [answer.model_calls for answer in answers] == [2, 4, 1]
    alone = await runner.invoke(registry.request_for("calculator", "t", queries[1]))
    assert answers[1].usage == alone.usage


# Streamed runs: the same limits and counts as a plain run.


async def collect(runner: AgentRunner, request) -> list[StreamItem]:
    return [item async for item in runner.stream(request)]


async def test_text_streams_in_pieces_with_the_reported_usage(
    start_simulator: Start, runner_for: Callable[..., AgentRunner], registry: AgentRegistry
) -> None:
    sim = await start_simulator()
    items = await collect(runner_for(sim), registry.request_for("summarizer", "t1", "Sky is blue."))
    deltas = [item.text for item in items if isinstance(item, TextDelta)]
    answer = items[-1]
    assert isinstance(answer, ModelAnswer)
    assert len(deltas) > 3 and "".join(deltas) == answer.text == _echo("Sky is blue.")
    stats = await _stats(sim)
    assert answer.usage.prompt_tokens == stats["tokens"]["prompt"] > 0
    assert answer.usage.completion_tokens == stats["tokens"]["completion"] == len(deltas)


async def test_tool_calls_and_results_come_as_they_happen(
    start_simulator: Start, runner_for: Callable[..., AgentRunner], registry: AgentRegistry
) -> None:
    sim = await start_simulator()
    request = registry.request_for("calculator", "t1", "multiply 19 and 23")
    items = await collect(runner_for(sim), request)
    calls = [item for item in items if isinstance(item, ToolCalled)]
    assert [call.name for call in calls] == ["multiply"]
    assert ToolReturned(calls[0].call_id) in items
    answer = items[-1]
    assert isinstance(answer, ModelAnswer)
    assert answer.text == "Tool results: multiply returned 437." and answer.model_calls == 2
    assert answer.usage == await _spent(sim)


async def test_the_round_cap_holds_for_a_stream(
    start_simulator: Start, runner_for: Callable[..., AgentRunner]
) -> None:
    agents = _agents("    max_tool_rounds: 2")
    sim = await start_simulator()
    query = _scripted("add", {"a": 2, "b": 3}, rounds=50)
    with pytest.raises(PermanentModelError) as caught:
        await collect(runner_for(sim, agents=agents), agents.request_for("adder", "t", query))
    assert caught.value.reason == (
        "tool round limit: the model asked for more than 2 rounds of tool calls"
    )
    assert (await _stats(sim))["requests"] == 3
    assert caught.value.usage == await _spent(sim)


async def test_a_stream_stopped_early_reports_what_it_received(
    start_simulator: Start, runner_for: Callable[..., AgentRunner], registry: AgentRegistry
) -> None:
    sim = await start_simulator(answer_tokens=200, latency={"per_token_ms": 5})
    stream = runner_for(sim).stream(registry.request_for("summarizer", "t1", "a long one"))
    iterator = aiter(stream)
    received = 0
    while received < 10:
        received += isinstance(await anext(iterator), TextDelta)
    await iterator.aclose()  # type: ignore[attr-defined]
    spent = stream.spent()
    assert spent.completion_tokens == received  # a cut stream reports no usage: counted
    assert spent.prompt_tokens > 0  # estimated from the instructions and the messages
