"""An Agent Framework agent runs its tool loop against the simulator, deterministically."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from agent_framework import Agent
from agent_framework.openai import OpenAIChatCompletionClient
from openai import AsyncOpenAI

from devhost.simulator.server import RunningSimulator


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture
async def agent(sim: RunningSimulator) -> AsyncIterator[Agent]:
    async with AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as openai_client:
        client = OpenAIChatCompletionClient(model="gpt-4o-mini", async_client=openai_client)
        yield Agent(client=client, instructions="You add numbers.", tools=[add])


async def test_agent_calls_the_tool_and_answers_with_its_result(agent: Agent) -> None:
    result = await agent.run("add 2 and 3")
    assert result.text == "Tool results: add returned 5."
    assert result.usage_details is not None
    assert result.usage_details["output_token_count"] > 0


async def test_agent_without_a_fitting_tool_answers_in_text(agent: Agent) -> None:
    result = await agent.run("hello")
    assert result.text.startswith("Simulated answer ")
    assert '"hello"' in result.text
