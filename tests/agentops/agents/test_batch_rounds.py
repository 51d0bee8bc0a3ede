"""Batch-mode items send what the interactive path sends, round for round, and end as it ends.

For every agent in ``agents.yaml`` (with a tool call for agents with tools), a real
``AgentRunner`` answers items interactively against a recording model; ``BatchRounds`` then
builds the same items' batch requests from the same model answers. Each batch body must be the
interactive request's body byte for byte, and the final answer (text, usage, calls) the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from openai import AsyncOpenAI

from agentops.agents.batch_rounds import Answered, BatchRounds, NextRequest
from agentops.agents.registry import AgentRegistry
from agentops.agents.runner import AgentRunner
from agentops.model.types import ChatMessage, ModelRequest, PermanentModelError
from tests.agentops.model.test_request_body import (
    QUERIES,
    REPO_AGENTS,
    RecordingModel,
    _cases,
    _connection,
)


@pytest.fixture
def registry() -> AgentRegistry:
    return AgentRegistry.from_yaml(REPO_AGENTS)


@pytest.fixture
async def rounds(registry: AgentRegistry) -> AsyncIterator[BatchRounds]:
    built = BatchRounds(registry)
    yield built
    await built.aclose()


@pytest.fixture
async def clients() -> AsyncIterator[list[AsyncOpenAI]]:
    made: list[AsyncOpenAI] = []
    yield made
    for client in made:
        await client.close()


def _answers(model: RecordingModel, bodies: list[bytes]) -> list[dict[str, Any]]:
    """The chat completions the recording model gave for ``bodies``."""
    again = RecordingModel(tool=model.tool)
    return [
        again(httpx2.Request("POST", "http://model.test/v1/chat/completions", content=body)).json()
        for body in bodies
    ]


def _items(registry: AgentRegistry, agent: str) -> list[ModelRequest]:
    history = (ChatMessage("user", "Earlier question?"), ChatMessage("assistant", "Earlier."))
    return [
        registry.request_for(agent, "contoso", query, past)
        for query in QUERIES
        for past in ((), history)
    ]


async def test_every_round_sends_the_interactive_bytes(
    registry: AgentRegistry, rounds: BatchRounds, clients: list[AsyncOpenAI]
) -> None:
    checked_tool_rounds = 0
    for agent, tool in _cases(registry):
        for request in _items(registry, agent):
            model = RecordingModel(tool=tool)
            interactive = await AgentRunner(
                registry, _connection(model, clients, plain=True)
            ).invoke(request)
            bodies = [body for *_, body in model.requests]
            answers = _answers(model, bodies)
            for number, body in enumerate(bodies):
                step = await rounds.step(request, answers[:number])
                assert isinstance(step, NextRequest), (agent, number)
                assert step.body == body, f"{agent} ({tool}), round {number + 1}"
                assert step.round == number + 1
            checked_tool_rounds += len(bodies) - 1
            done = await rounds.step(request, answers)
            assert isinstance(done, Answered)
            assert (done.answer.text, done.answer.usage, done.answer.model_calls) == (
                interactive.text,
                interactive.usage,
                interactive.model_calls,
            )
    assert checked_tool_rounds, "a tool round was built from a batch answer"


def _tool_call(number: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": f"call_{number}",
                            "type": "function",
                            "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


async def test_tool_rounds_stop_at_the_agents_limit(
    registry: AgentRegistry, rounds: BatchRounds
) -> None:
    definition = registry.get("calculator")
    request = registry.request_for("calculator", "contoso", "1 + 2?")
    limit = definition.max_tool_rounds
    step = await rounds.step(request, [_tool_call(n) for n in range(limit)])
    assert isinstance(step, NextRequest) and step.round == limit + 1
    with pytest.raises(PermanentModelError):
        await rounds.step(request, [_tool_call(n) for n in range(limit + 1)])


async def test_the_batch_deployment_is_the_agents(registry: AgentRegistry) -> None:
    rounds = BatchRounds(registry)
    try:
        request = registry.request_for("summarizer", "contoso", "Text.")
        assert rounds.batch_request(request).deployment == "gpt-4o-mini"
    finally:
        await rounds.aclose()


async def test_items_built_at_once_keep_their_own_answers(
    registry: AgentRegistry, rounds: BatchRounds
) -> None:
    requests = [registry.request_for("calculator", "contoso", f"{n} + 2?") for n in range(20)]
    # Item n has had n % 3 tool rounds answered: each must resume at its own round.
    histories = [[_tool_call(k) for k in range(n % 3)] for n in range(20)]
    alone = [await rounds.step(r, h) for r, h in zip(requests, histories, strict=True)]
    together = await asyncio.gather(
        *(rounds.step(r, h) for r, h in zip(requests, histories, strict=True))
    )
    assert together == alone
    assert [step.round for step in alone if isinstance(step, NextRequest)] == [
        n % 3 + 1 for n in range(20)
    ]
