"""Answer one ``ModelRequest`` with a Microsoft Agent Framework agent.

The runner builds one ``Agent`` per agent definition and deployment on first use, over one chat
completion client per deployment, all sharing the endpoint's connection pool. A call runs the
agent's whole tool loop (the model asks for a tool, the Python function runs, its result goes
back) until the model answers in text; Agent Framework sums the usage over those round trips.

Failures come out as ``PermanentModelError`` or ``TransientModelError`` (see
``agentops.model.classify``); anything else is a bug and propagates unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from agent_framework import Agent, ChatResponse, Message, tool
from agent_framework.openai import OpenAIChatCompletionClient

from agentops.agents.registry import AgentRegistry
from agentops.agents.tool_guard import FailOnToolError
from agentops.model.classify import classify_model_error
from agentops.model.openai_client import ModelConnection
from agentops.model.types import ModelAnswer, ModelRequest, PermanentModelError, Usage

logger = logging.getLogger(__name__)


class AgentRunner:
    """Runs queries through the registry's agents against one model endpoint."""

    def __init__(
        self,
        registry: AgentRegistry,
        connection: ModelConnection,
        *,
        max_tool_rounds: int = 8,
    ) -> None:
        if max_tool_rounds < 1:
            raise ValueError("max_tool_rounds must be at least 1")
        self._registry = registry
        self._connection = connection
        self._max_tool_rounds = max_tool_rounds
        self._clients: dict[str, OpenAIChatCompletionClient] = {}
        self._agents: dict[tuple[str, str], Agent[Any]] = {}

    async def invoke(self, request: ModelRequest) -> ModelAnswer:
        """Answer ``request.query`` (after ``request.history``) with the agent it names."""
        agent = self._agent(request)
        messages = [Message(turn.role, [turn.text]) for turn in request.history]
        messages.append(Message("user", [request.query]))
        try:
            response = await agent.run(messages, options={"max_tokens": request.max_output_tokens})
        except Exception as exc:
            error = classify_model_error(exc)
            if error is None:
                raise
            logger.info(
                "agent %s on %s failed: %s %s",
                request.agent,
                request.deployment,
                type(error).__name__,
                error.status or "",
            )
            if error is exc:
                raise
            raise error from exc

        if response.finish_reason == "content_filter":
            raise PermanentModelError("content filter: the answer was filtered")
        usage = _usage(response.usage_details)
        raw = response.raw_representation
        model = raw.model if isinstance(raw, ChatResponse) and raw.model else request.deployment
        calls = 1 + sum(
            1
            for message in response.messages
            if any(content.type == "function_call" for content in message.contents)
        )
        return ModelAnswer(
            text=_final_text(response.messages), usage=usage, model=model, model_calls=calls
        )

    def _agent(self, request: ModelRequest) -> Agent[Any]:
        key = (request.agent, request.deployment)
        agent = self._agents.get(key)
        if agent is not None:
            return agent
        definition = self._registry.get(request.agent)
        if definition.version != request.agent_version:
            # The definition changed after the request was made (a deployment mid-run): answer
            # with the current definition, which is the only one this process has.
            logger.warning(
                "agent %s is at version %s, request made for %s",
                definition.name,
                definition.version,
                request.agent_version,
            )
        options: dict[str, Any] = {"max_tokens": definition.max_output_tokens}
        if definition.temperature is not None:
            options["temperature"] = definition.temperature
        agent = Agent(
            self._client(request.deployment),
            definition.instructions,
            name=definition.name,
            description=definition.description,
            tools=[tool(function) for function in self._registry.tool_functions(definition.name)],
            default_options=options,  # type: ignore[arg-type]
            middleware=[FailOnToolError()],
        )
        self._agents[key] = agent
        return agent

    def _client(self, deployment: str) -> OpenAIChatCompletionClient:
        client = self._clients.get(deployment)
        if client is None:
            client = OpenAIChatCompletionClient(
                model=deployment,
                async_client=self._connection.client,
                function_invocation_configuration={
                    "max_iterations": self._max_tool_rounds,
                    # A tool the agent does not have is a bad call, not something to chat about.
                    "terminate_on_unknown_calls": True,
                },
            )
            self._clients[deployment] = client
        return client


def _usage(details: Any) -> Usage:
    if not details:
        return Usage()
    return Usage(
        prompt_tokens=int(details.get("input_token_count") or 0),
        completion_tokens=int(details.get("output_token_count") or 0),
    )


def _final_text(messages: list[Message]) -> str:
    """The last assistant text: tool-call turns before it carry no answer."""
    for message in reversed(messages):
        if message.role == "assistant" and message.text:
            return message.text
    return ""
