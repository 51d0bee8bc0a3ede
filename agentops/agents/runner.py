"""Answer one ``ModelRequest`` with a Microsoft Agent Framework agent.

The runner builds one agent per agent definition and deployment on first use, over one chat
completion client per deployment, all sharing the endpoint's connection pool. Agents and clients
carry only the Agent Framework layers they use (``agentops.agents.layers``): no telemetry layers
while its instrumentation is off, no function-invocation loop for an agent without tools. A call
runs the agent's whole tool loop (the model asks for a tool, the Python function runs, its result
goes back) until the model answers in text.

Each run has its own ``ItemGuard``, which counts the usage of every round trip and holds the item
to its declared tools, ``max_tool_rounds`` and ``max_total_output_tokens``; tools check their
arguments strictly (``strict_tools``).

``stream`` runs the same loop with Agent Framework's streaming run: it yields text deltas and
tool calls as they happen, then the answer; ``AnswerStream.spent`` tells what a stream cut short
had used so far.

Failures come out as ``PermanentModelError`` or ``TransientModelError`` (see
``agentops.model.classify``), carrying the usage the item spent before it failed, with reasons
that never quote the agent's instructions; anything else is a bug and propagates unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from agent_framework import Agent, AgentResponse, ChatResponse, Message

from agentops.agents.agent_metrics import ToolMetering, agent_created, agent_executed
from agentops.agents.definitions import AgentDefinition
from agentops.agents.item_guard import ItemGuard
from agentops.agents.layers import (
    agent_class,
    client_class,
    instrumented,
    without_loop_warning,
)
from agentops.agents.registry import AgentRegistry
from agentops.agents.strict_tools import strict_tool
from agentops.agents.tool_guard import FailOnToolError
from agentops.logging_safety import printable
from agentops.model.classify import classify_model_error
from agentops.model.openai_client import ModelConnection
from agentops.model.stream_events import StreamItem, TextDelta, ToolCalled, ToolReturned
from agentops.model.types import ModelAnswer, ModelRequest, PermanentModelError, Usage

logger = logging.getLogger(__name__)


class AgentRunner:
    """Runs queries through the registry's agents against one model endpoint."""

    def __init__(self, registry: AgentRegistry, connection: ModelConnection) -> None:
        self._registry = registry
        self._connection = connection
        # Keyed by whether Agent Framework's instrumentation was on: tests switch it at run time.
        self._clients: dict[tuple[str, int, bool, bool], Any] = {}
        self._agents: dict[tuple[str, str, bool], Any] = {}

    async def invoke(self, request: ModelRequest) -> ModelAnswer:
        """Answer ``request.query`` (after ``request.history``) with the agent it names."""
        definition, agent, guard, messages = self._prepare(request)
        try:
            response = await agent.run(
                messages,
                options={"max_tokens": request.max_output_tokens},
                middleware=[guard],
            )
        except Exception as exc:
            error = self._failure(exc, request, definition, guard)
            if error is exc:
                raise
            raise error from exc
        return self._answer(request, definition, guard, response)

    def stream(self, request: ModelRequest) -> AnswerStream:
        """Answer ``request`` as a stream: pieces as they come, the ``ModelAnswer`` last."""
        definition, agent, guard, messages = self._prepare(request)
        return AnswerStream(self, request, definition, agent, guard, messages)

    def _prepare(
        self, request: ModelRequest
    ) -> tuple[AgentDefinition, Agent[Any], ItemGuard, list[Message]]:
        definition = self._registry.get(request.agent)
        agent = self._agent(request, definition)
        guard = ItemGuard(
            agent=definition.name,
            tools=definition.tools,
            max_tool_rounds=definition.max_tool_rounds,
            max_output_tokens=request.max_output_tokens,
            max_total_output_tokens=max(definition.total_output_tokens, request.max_output_tokens),
        )
        messages = [Message(turn.role, [turn.text]) for turn in request.history]
        messages.append(Message("user", [request.query]))
        return definition, agent, guard, messages

    def _failure(
        self, exc: Exception, request: ModelRequest, definition: AgentDefinition, guard: ItemGuard
    ) -> Exception:
        """The model error to raise for ``exc`` (``exc`` itself when it is not one)."""
        error = classify_model_error(exc, private=(definition.instructions,))
        agent_executed(definition.name, error or exc)
        if error is None:
            return exc
        # Spent before the failure, so billed like any other call.
        error.usage = guard.usage
        logger.info(
            "agent %s on %s failed after %d calls: %s %s",
            printable(request.agent, 64),
            printable(request.deployment, 128),
            guard.model_calls,
            type(error).__name__,
            error.status or "",
        )
        return error

    def _answer(
        self,
        request: ModelRequest,
        definition: AgentDefinition,
        guard: ItemGuard,
        response: AgentResponse[Any],
    ) -> ModelAnswer:
        if response.finish_reason == "content_filter":
            error = PermanentModelError("content filter: the answer was filtered")
            error.usage = guard.usage
            agent_executed(definition.name, error)
            raise error
        agent_executed(definition.name, None)
        raw = response.raw_representation
        model = raw.model if isinstance(raw, ChatResponse) and raw.model else request.deployment
        return ModelAnswer(
            text=_final_text(response.messages),
            usage=guard.usage,
            model=model,
            model_calls=guard.model_calls,
        )

    def _agent(self, request: ModelRequest, definition: AgentDefinition) -> Any:
        traced = instrumented()
        key = (request.agent, request.deployment, traced)
        agent = self._agents.get(key)
        if agent is not None:
            return agent
        if definition.version != request.agent_version:
            # The definition changed after the request was made (a deployment mid-run): answer
            # with the current definition, which is the only one this process has.
            logger.warning(
                "agent %s is at version %s, request made for %s",
                definition.name,
                definition.version,
                printable(request.agent_version, 64),
            )
        options: dict[str, Any] = {"max_tokens": definition.max_output_tokens}
        if definition.temperature is not None:
            options["temperature"] = definition.temperature
        functions = self._registry.tool_functions(definition.name)
        tools = [strict_tool(function) for function in functions]
        client = self._client(request.deployment, definition.max_tool_rounds, traced, bool(tools))
        with without_loop_warning():
            agent = agent_class(traced=traced)(
                client,
                definition.instructions,
                name=definition.name,
                description=definition.description,
                tools=tools,
                default_options=options,
                # Function middleware runs around tool calls: an agent without tools has none.
                middleware=[ToolMetering(definition.name), FailOnToolError()] if tools else None,
            )
        agent_created(definition.name)
        self._agents[key] = agent
        return agent

    def _client(self, deployment: str, max_tool_rounds: int, traced: bool, tools: bool) -> Any:
        key = (deployment, max_tool_rounds, traced, tools)
        client = self._clients.get(key)
        if client is not None:
            return client
        make = client_class(traced=traced, tools=tools)
        if not tools:
            client = make(model=deployment, async_client=self._connection.client)
        else:
            client = make(
                model=deployment,
                async_client=self._connection.client,
                function_invocation_configuration={
                    # One model call more than the rounds allowed: the answer after the last
                    # round. A call that asks for tools again is refused by the ItemGuard, so
                    # Agent Framework's final call with tools switched off never happens.
                    "max_iterations": max_tool_rounds + 1,
                    # A tool the agent does not have is a bad call, not something to chat about.
                    "terminate_on_unknown_calls": True,
                },
            )
        self._clients[key] = client
        return client


class AnswerStream:
    """One streamed run: iterate it for pieces and the answer; ``spent`` is its usage so far."""

    def __init__(
        self,
        runner: AgentRunner,
        request: ModelRequest,
        definition: AgentDefinition,
        agent: Agent[Any],
        guard: ItemGuard,
        messages: list[Message],
    ) -> None:
        self._runner = runner
        self._request = request
        self._definition = definition
        self._agent = agent
        self._guard = guard
        self._messages = messages

    def spent(self) -> Usage:
        """What the calls reported, plus the call in progress as counted so far."""
        return self._guard.usage + self._guard.pending

    @property
    def model_calls(self) -> int:
        return self._guard.model_calls

    async def __aiter__(self) -> AsyncIterator[StreamItem]:
        request, guard = self._request, self._guard
        seen_calls: set[str] = set()
        try:
            stream = self._agent.run(
                self._messages,
                stream=True,
                options={"max_tokens": request.max_output_tokens},
                middleware=[guard],
            )
            async for update in stream:
                for content in update.contents:
                    if content.type == "text" and content.text:
                        yield TextDelta(content.text)
                    elif content.type == "function_call" and content.call_id:
                        if content.name and content.call_id not in seen_calls:
                            seen_calls.add(content.call_id)
                            yield ToolCalled(content.name, content.call_id)
                    elif content.type == "function_result" and content.call_id:
                        yield ToolReturned(content.call_id)
            response = await stream.get_final_response()
        except Exception as exc:
            error = self._runner._failure(exc, request, self._definition, guard)
            if error is exc:
                raise
            raise error from exc
        yield self._runner._answer(request, self._definition, guard, response)


def _final_text(messages: list[Message]) -> str:
    """The last assistant text: tool-call turns before it carry no answer."""
    for message in reversed(messages):
        if message.role == "assistant" and message.text:
            return message.text
    return ""
