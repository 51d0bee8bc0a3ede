"""The requests ``PlainBodyCompletions`` sends are the SDK's own, byte for byte.

Every agent in ``agents.yaml`` answers the same queries twice through a real ``AgentRunner``: over
the SDK's ``AsyncCompletions`` and over ``PlainBodyCompletions``, on OpenAI and on Azure OpenAI.
A recording transport answers like a model (a tool call first for an agent with tools, then text)
and keeps each request: method, URL, headers and body bytes must be the same on both paths, call
for call.

``test_the_installed_sdk_is_the_verified_one`` fails after an SDK upgrade: run this module against
the new version, then move ``VERIFIED_SDK_VERSION`` (agentops/model/request_body.py).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI
from openai.resources.chat.completions import AsyncCompletions

from agentops.agents.registry import AgentRegistry
from agentops.agents.runner import AgentRunner
from agentops.model.openai_client import ModelConnection, Transport
from agentops.model.request_body import (
    VERIFIED_SDK_VERSION,
    PlainBodyCompletions,
    is_plain_json,
    skip_type_walk,
)
from agentops.model.types import ChatMessage, ModelRequest

REPO_AGENTS = Path(__file__).resolve().parents[3] / "agents.yaml"
# A fresh random key per request (the SDK's retry idempotency key): equal only in form.
_PER_REQUEST_HEADERS = {"idempotency-key"}
# Tool calls the recording model makes, by tool: arguments each tool accepts.
_TOOL_CALLS: dict[str, dict[str, Any]] = {
    "add": {"a": 2, "b": 3.5},
    "days_between": {"start": "2024-01-01", "end": "2024-03-01"},
    "convert_temperature": {"value": 21.5, "from_unit": "C", "to_unit": "F"},
}
QUERIES = [
    "Summarise: Ana Lima sold 1,204 units in Q3 2024, up 12 %.",
    'Quote "this" and a tab\there, a newline\nthere, and ünïcödé — 数字 ✓',
    "x" * 2000,
]


@dataclass
class RecordingModel:
    """Answers chat completions like a model and keeps every request it was sent."""

    tool: str | None = None
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        headers = {
            name: ("<per request>" if name in _PER_REQUEST_HEADERS else value)
            for name, value in request.headers.items()
        }
        self.requests.append((request.method, str(request.url), headers, request.content))
        body = json.loads(request.content)
        last = body["messages"][-1]
        if self.tool and body.get("tools") and last["role"] == "user":
            message: dict[str, Any] = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {
                            "name": self.tool,
                            "arguments": json.dumps(_TOOL_CALLS[self.tool]),
                        },
                    }
                ],
            }
            finish = "tool_calls"
        else:
            message = {"role": "assistant", "content": f"Answer to {len(body['messages'])}."}
            finish = "stop"
        return httpx2.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49},
            },
        )


@pytest.fixture
def registry() -> AgentRegistry:
    return AgentRegistry.from_yaml(REPO_AGENTS)


@pytest.fixture
async def clients() -> AsyncIterator[list[AsyncOpenAI]]:
    made: list[AsyncOpenAI] = []
    yield made
    for client in made:
        await client.close()


def _connection(
    model: RecordingModel, made: list[AsyncOpenAI], *, plain: bool, azure: bool = False
) -> ModelConnection:
    http_client = httpx2.AsyncClient(transport=httpx2.MockTransport(model))
    client: AsyncOpenAI
    if azure:
        client = AsyncAzureOpenAI(
            azure_endpoint="https://model.openai.azure.com",
            api_key="test-key",
            api_version="2024-10-21",
            max_retries=0,
            http_client=http_client,
        )
    else:
        client = AsyncOpenAI(
            base_url="http://model.test/v1",
            api_key="test-key",
            max_retries=0,
            http_client=http_client,
        )
    made.append(client)
    connection = ModelConnection(client, label="recording", transport=Transport.HTTPX)
    if plain:
        assert skip_type_walk(client, force=True)
    else:
        client.chat.completions = AsyncCompletions(client)  # type: ignore[misc]
    return connection


def _request(
    registry: AgentRegistry, agent: str, query: str, history: tuple[ChatMessage, ...] = ()
) -> ModelRequest:
    return registry.request_for(agent, "contoso", query, history)


def _cases(registry: AgentRegistry) -> Iterator[tuple[str, str | None]]:
    for summary in registry.list():
        tools = [tool for tool in _TOOL_CALLS if tool in summary.tools]
        if summary.tools:
            assert tools, f"give the recording model a call to one of {summary.name}'s tools"
        yield from ((summary.name, tool) for tool in tools or [None])


async def _sent(
    registry: AgentRegistry,
    agent: str,
    tool: str | None,
    made: list[AsyncOpenAI],
    *,
    plain: bool,
    azure: bool,
) -> tuple[list[Any], list[Any]]:
    model = RecordingModel(tool=tool)
    connection = _connection(model, made, plain=plain, azure=azure)
    runner = AgentRunner(registry, connection)
    history = (ChatMessage("user", "Earlier question?"), ChatMessage("assistant", "Earlier."))
    answers = []
    for query in QUERIES:
        for request in (
            _request(registry, agent, query),
            _request(registry, agent, query, history=history),
        ):
            answer = await runner.invoke(request)
            answers.append((answer.text, answer.usage, answer.model_calls))
    if plain:  # every request took the plain path: none was left to the SDK
        posts = connection.client.chat.completions._posts  # type: ignore[attr-defined]
        assert posts and None not in posts.values()
    return model.requests, answers


@pytest.mark.parametrize("azure", [False, True], ids=["openai", "azure"])
async def test_every_agent_sends_the_sdks_bytes(
    registry: AgentRegistry, clients: list[AsyncOpenAI], azure: bool
) -> None:
    cases = list(_cases(registry))
    assert {agent for agent, _ in cases} == {summary.name for summary in registry.list()}
    assert any(tool for _, tool in cases), "agents.yaml has an agent with tools"
    for agent, tool in cases:
        sdk, sdk_answers = await _sent(registry, agent, tool, clients, plain=False, azure=azure)
        ours, our_answers = await _sent(registry, agent, tool, clients, plain=True, azure=azure)
        assert len(ours) == len(sdk) >= 2 * len(QUERIES), agent
        for number, (expected, got) in enumerate(zip(sdk, ours, strict=True)):
            assert got == expected, f"{agent} ({tool}), request {number}"
        assert our_answers == sdk_answers
        if tool:  # the tool result went back to the model in a second call
            assert any(b'"role":"tool"' in body for *_, body in ours), agent


async def test_the_plain_path_is_taken(registry: AgentRegistry, clients: list[AsyncOpenAI]) -> None:
    model = RecordingModel()
    connection = _connection(model, clients, plain=True)
    completions = connection.client.chat.completions
    assert isinstance(completions, PlainBodyCompletions)
    await AgentRunner(registry, connection).invoke(_request(registry, "summarizer", QUERIES[0]))
    posts = list(completions._posts.values())
    assert [post.order if post else None for post in posts] == [
        ("model", "stream", "messages", "max_completion_tokens", "temperature")
    ]


async def test_what_is_not_plain_json_goes_through_the_sdk(clients: list[AsyncOpenAI]) -> None:
    model = RecordingModel()
    connection = _connection(model, clients, plain=True)
    completions = connection.client.chat.completions
    messages = ({"role": "user", "content": "a tuple of messages"},)
    await completions.create(model="m", messages=messages, stream=False)
    assert completions._posts == {}  # type: ignore[attr-defined]
    assert json.loads(model.requests[0][3])["messages"] == [messages[0]]


def test_plain_json() -> None:
    assert is_plain_json({"a": [1, 2.5, "x", None, True, {"b": []}]})
    assert not is_plain_json({"a": (1, 2)})
    assert not is_plain_json({1: "non-string key"})
    assert not is_plain_json({"when": object()})


def test_the_installed_sdk_is_the_verified_one() -> None:
    assert openai.__version__ == VERIFIED_SDK_VERSION, (
        f"openai {openai.__version__} is installed; run this module against it, then set "
        "VERIFIED_SDK_VERSION in agentops/model/request_body.py"
    )
