"""Agents carry only the Agent Framework layers they use, and answer and trace the same.

A mock transport answers like a model (a tool call first for an agent with tools, then text).
With Agent Framework's instrumentation off, the runner builds agents without the telemetry layers;
with it on, its ``invoke_agent``, ``chat`` and ``execute_tool`` spans are all there, with or
without tools. Answers, usage and the requests sent are the same either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from agent_framework import Agent
from agent_framework.observability import OBSERVABILITY_SETTINGS
from agent_framework.openai import OpenAIChatCompletionClient
from openai import AsyncOpenAI

from agentops.agents import runner as runner_module
from agentops.agents.layers import (
    TracedChatClient,
    TracedToolClient,
    UntracedAgent,
    UntracedChatClient,
    UntracedToolClient,
)
from agentops.agents.registry import AgentRegistry
from agentops.agents.runner import AgentRunner
from agentops.model.openai_client import ModelConnection, Transport
from agentops.model.types import Usage
from tests.agentops.agents.model_answers import answer_like_a_model
from tests.telemetry_capture import CapturedTelemetry

REPO_AGENTS = Path(__file__).resolve().parents[3] / "agents.yaml"


_answer = answer_like_a_model


@pytest.fixture
def instrumentation() -> Iterator[None]:
    """Restores Agent Framework's instrumentation switch after the test."""
    before = OBSERVABILITY_SETTINGS.enable_instrumentation
    yield
    OBSERVABILITY_SETTINGS.enable_instrumentation = before


@pytest.fixture
async def runner() -> AsyncIterator[AgentRunner]:
    sent: list[bytes] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(request.content)
        return _answer(request)

    client = AsyncOpenAI(
        base_url="http://model.test/v1",
        api_key="test-key",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(answer)),
    )
    runner = AgentRunner(
        AgentRegistry.from_yaml(REPO_AGENTS),
        ModelConnection(client, label="mock", transport=Transport.HTTPX),
    )
    runner.sent = sent  # type: ignore[attr-defined]
    yield runner
    await client.close()


async def _ask(runner: AgentRunner, agent: str) -> tuple[Any, ...]:
    registry = AgentRegistry.from_yaml(REPO_AGENTS)
    answer = await runner.invoke(registry.request_for(agent, "contoso", "What is 2 + 3?"))
    return answer.text, answer.usage, answer.model_calls


def _built(runner: AgentRunner, agent: str) -> tuple[type, type]:
    (built,) = [value for key, value in runner._agents.items() if key[0] == agent]
    return type(built), type(built.client)


async def test_without_instrumentation_no_telemetry_layers(
    runner: AgentRunner, instrumentation: None, captured_telemetry: CapturedTelemetry
) -> None:
    OBSERVABILITY_SETTINGS.enable_instrumentation = False
    assert await _ask(runner, "summarizer") == ("Five.", Usage(30, 7), 1)
    assert await _ask(runner, "calculator") == ("Five.", Usage(60, 14), 2)
    assert _built(runner, "summarizer") == (UntracedAgent, UntracedChatClient)
    assert _built(runner, "calculator") == (UntracedAgent, UntracedToolClient)
    assert not [s for s in captured_telemetry.spans() if s.name.startswith(("chat ", "invoke"))]


async def test_with_instrumentation_every_span_with_or_without_tools(
    runner: AgentRunner, instrumentation: None, captured_telemetry: CapturedTelemetry
) -> None:
    OBSERVABILITY_SETTINGS.enable_instrumentation = True
    assert await _ask(runner, "summarizer") == ("Five.", Usage(30, 7), 1)
    assert await _ask(runner, "calculator") == ("Five.", Usage(60, 14), 2)
    assert _built(runner, "summarizer") == (Agent, TracedChatClient)
    assert _built(runner, "calculator") == (Agent, TracedToolClient)
    assert issubclass(TracedToolClient, OpenAIChatCompletionClient)
    names = sorted(s.name for s in captured_telemetry.spans())
    assert names == [
        "chat gpt-4o-mini",
        "chat gpt-4o-mini",
        "chat gpt-4o-mini",
        "execute_tool add",
        "invoke_agent calculator",
        "invoke_agent summarizer",
    ]


async def test_the_same_requests_either_way(runner: AgentRunner, instrumentation: None) -> None:
    sent: list[bytes] = runner.sent  # type: ignore[attr-defined]
    by_switch: dict[bool, list[bytes]] = {}
    for on in (False, True):
        OBSERVABILITY_SETTINGS.enable_instrumentation = on
        sent.clear()
        await _ask(runner, "summarizer")
        await _ask(runner, "calculator")
        by_switch[on] = list(sent)
    assert by_switch[False] == by_switch[True] and len(by_switch[True]) == 3


async def test_the_same_requests_as_with_every_layer(
    runner: AgentRunner, instrumentation: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against agents built as Agent Framework's defaults stack them: Agent over
    OpenAIChatCompletionClient, function invocation included, for every agent."""
    sent: list[bytes] = runner.sent  # type: ignore[attr-defined]
    OBSERVABILITY_SETTINGS.enable_instrumentation = False
    by_build: dict[str, tuple[list[bytes], list[Any]]] = {}
    for build in ("layers", "every layer"):
        if build == "every layer":
            monkeypatch.setattr(runner_module, "agent_class", lambda traced: Agent)
            monkeypatch.setattr(
                runner_module, "client_class", lambda traced, tools: OpenAIChatCompletionClient
            )
            runner._agents.clear()
            runner._clients.clear()
        sent.clear()
        answers = [await _ask(runner, agent) for agent in ("summarizer", "triage", "calculator")]
        by_build[build] = (list(sent), answers)
    assert isinstance(runner._agents[("summarizer", "gpt-4o-mini", False)], Agent)
    assert by_build["layers"] == by_build["every layer"]
