"""AgentRunner against the devhost model simulator, served by uvicorn on a free loopback port.

Real Agent Framework agents, the real OpenAI SDK over both transports, real HTTP. The simulator's
deterministic answers and tool-call convention are documented in ``devhost.simulator.answers``
and ``devhost.simulator.tools``.
"""

from __future__ import annotations

import dataclasses
import hashlib
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
from agentops.model.types import ChatMessage, PermanentModelError, TransientModelError
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


async def test_429_is_transient_with_retry_after_ms(
    start_simulator: Start, runner_for: Callable[..., AgentRunner], registry: AgentRegistry
) -> None:
    sim = await start_simulator(faults={"schedule": [{"fault": "429"}], "retry_after_ms": 1500})
    runner = runner_for(sim)
    with pytest.raises(TransientModelError) as caught:
        await runner.invoke(registry.request_for("summarizer", "t1", "hello"))
    assert caught.value.status == 429
    assert caught.value.retry_after_s == pytest.approx(1.5)
    assert (await _stats(sim))["requests"] == 1, "the SDK must not retry on its own"


@pytest.mark.parametrize("fault", ["500", "503"])
async def test_server_errors_are_transient(
    start_simulator: Start,
    runner_for: Callable[..., AgentRunner],
    registry: AgentRegistry,
    fault: str,
) -> None:
    sim = await start_simulator(faults={"schedule": [{"fault": fault}]})
    with pytest.raises(TransientModelError) as caught:
        await runner_for(sim).invoke(registry.request_for("summarizer", "t1", "hello"))
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
    assert caught.value.reason.startswith("invalid tool call: weekday: Invalid arguments")
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
