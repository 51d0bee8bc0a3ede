"""Agent Framework's record of the tools a run offered is the same when built once per tool list.

A mock transport answers like a model: a call to ``add`` first, then text. The record in the
response (``additional_properties["agent_framework.evaluation"]``) of an agent over our tool
clients equals the one of an agent over ``OpenAIChatCompletionClient`` as Agent Framework builds
it, run after run, with instrumentation on or off; the record is built through the layer, so an
Agent Framework version that hands the record over differently fails here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import httpx2
import pytest
from agent_framework import Agent, Message, tool
from agent_framework._types import _capture_evaluation_tools
from agent_framework.observability import OBSERVABILITY_SETTINGS
from agent_framework.openai import OpenAIChatCompletionClient
from openai import AsyncOpenAI
from pydantic import Field

from agentops.agents.layers import TracedToolClient, UntracedAgent, UntracedToolClient
from agentops.agents.registry import AgentRegistry
from agentops.agents.strict_tools import strict_tool
from agentops.agents.tool_record import ToolRecordOnce, run_record
from tests.agentops.agents.model_answers import answer_like_a_model

REPO_AGENTS = Path(__file__).resolve().parents[3] / "agents.yaml"
EVALUATION = "agent_framework.evaluation"


_answer = answer_like_a_model


@pytest.fixture
async def sdk() -> AsyncIterator[AsyncOpenAI]:
    client = AsyncOpenAI(
        base_url="http://model.test/v1",
        api_key="test-key",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(_answer)),
    )
    yield client
    await client.close()


@pytest.fixture
def instrumentation() -> Iterator[None]:
    before = OBSERVABILITY_SETTINGS.enable_instrumentation
    yield
    OBSERVABILITY_SETTINGS.enable_instrumentation = before


def _calculator_tools() -> list[Any]:
    registry = AgentRegistry.from_yaml(REPO_AGENTS)
    return [strict_tool(function) for function in registry.tool_functions("calculator")]


async def _records(agent: Any, runs: int) -> list[tuple[Any, str]]:
    out = []
    for n in range(runs):
        response = await agent.run([Message("user", [f"What is 2 + 3? #{n}"])])
        out.append((response.additional_properties[EVALUATION], response.text))
    return out


@pytest.mark.parametrize("traced", [False, True])
async def test_the_record_is_agent_frameworks(
    sdk: AsyncOpenAI,
    instrumentation: None,
    monkeypatch: pytest.MonkeyPatch,
    traced: bool,
) -> None:
    OBSERVABILITY_SETTINGS.enable_instrumentation = traced
    tools = _calculator_tools()
    built = []
    for make in (TracedToolClient if traced else UntracedToolClient, OpenAIChatCompletionClient):
        agent_type = Agent if traced or make is OpenAIChatCompletionClient else UntracedAgent
        client = make(model="gpt-4o-mini", async_client=sdk)
        built.append(agent_type(client, "Answer with tools.", name="calculator", tools=tools))
    ours, theirs = built

    recorded: list[int] = []
    record_tools = ToolRecordOnce._record_tools

    def counted(self: ToolRecordOnce, record: Any, offered: Any) -> None:
        recorded.append(len(offered))
        record_tools(self, record, offered)

    monkeypatch.setattr(ToolRecordOnce, "_record_tools", counted)
    expected = await _records(theirs, 3)
    assert not recorded
    got = await _records(ours, 3)
    # Two model calls per run (the tool call, then the answer), all through the layer.
    assert recorded == [10] * 6
    assert got == expected
    record, text = got[0]
    assert text == "Five."
    assert list(record) == [t.name for t in tools] and "add" in record
    assert record["add"]["input_schema"] == tools[0].parameters()
    assert len(ours.client.__dict__["_tool_records"]) == 1


@tool
def add(a: Annotated[float, Field(description="first")], b: float) -> float:
    """Add."""
    return a + b


@tool(name="add")
def add_ints(a: int, b: int) -> int:
    """Add integers."""
    return a + b


def test_a_name_whose_schema_changes_is_flagged_as_agent_framework_flags_it() -> None:
    layer = ToolRecordOnce()
    for sequence in ([[add], [add]], [[add], [add_ints]], [[add_ints], [add], [add]]):
        ours: dict[str, Any] = {}
        theirs: dict[str, Any] = {}
        for offered in sequence:
            layer._record_tools(ours, offered)
            _capture_evaluation_tools(theirs, offered)
        assert ours == theirs
    assert ours["add"]["schema_changed"] is True


def test_tools_not_in_a_list_are_recorded_by_agent_framework_itself() -> None:
    layer = ToolRecordOnce()
    ours: dict[str, Any] = {}
    theirs: dict[str, Any] = {}
    layer._record_tools(ours, add)
    _capture_evaluation_tools(theirs, add)
    assert ours == theirs and "add" in ours
    assert not layer.__dict__["_tool_records"]


def test_only_agent_frameworks_capture_is_recognised() -> None:
    record: dict[str, Any] = {}
    assert run_record(partial(_capture_evaluation_tools, record)) is record
    assert run_record(lambda tools: None) is None
    assert run_record(partial(_capture_evaluation_tools, record, [add])) is None
    assert run_record(None) is None
