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

Failures come out as ``PermanentModelError`` or ``TransientModelError`` (see
``agentops.model.classify``), carrying the usage the item spent before it failed, with reasons
that never quote the agent's instructions; anything else is a bug and propagates unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from agent_framework import ChatResponse, Message

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
from agentops.model.types import ModelAnswer, ModelRequest, PermanentModelError

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
        try:
            response = await agent.run(
                messages,
                options={"max_tokens": request.max_output_tokens},
                middleware=[guard],
            )
        except Exception as exc:
            error = classify_model_error(exc, private=(definition.instructions,))
            agent_executed(definition.name, error or exc)
            if error is None:
                raise
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
            if error is exc:
                raise
            raise error from exc

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


def _final_text(messages: list[Message]) -> str:
    """The last assistant text: tool-call turns before it carry no answer."""
    for message in reversed(messages):
        if message.role == "assistant" and message.text:
            return message.text
    return ""
