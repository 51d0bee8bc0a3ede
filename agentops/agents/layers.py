"""The Agent Framework classes an agent is built from: only the layers it uses.

``Agent`` and ``OpenAIChatCompletionClient`` stack every layer Agent Framework has: agent and
chat telemetry, chat middleware, and the function-invocation loop. Two of them do nothing on some
of this app's paths and still cost a few frames, dict copies and checks on every call:

- the telemetry layers, when Agent Framework's instrumentation is off (``agentops.telemetry``
  turns it off when no telemetry is configured): they only check the flag and call through;
- the function-invocation layer, for an agent without tools: it runs its loop once and returns.
  Without it, a tool call in the answer still fails the item: ``ItemGuard`` is chat middleware,
  which the chat middleware layer runs on every call.

``agent_class`` and ``client_class`` pick the classes with just the layers needed, in Agent
Framework's own order (function invocation, chat middleware, telemetry, raw client). With
instrumentation on, they are ``Agent`` and ``OpenAIChatCompletionClient`` themselves, or those
without the function-invocation layer for an agent without tools.

A client for an agent with tools also has ``ToolRecordOnce`` on top
(``agentops.agents.tool_record``): Agent Framework's record of the tools offered, built once per
tool list instead of serialised anew on every call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agent_framework import (
    Agent,
    AgentMiddlewareLayer,
    ChatMiddlewareLayer,
    FunctionInvocationLayer,
    RawAgent,
)
from agent_framework._telemetry import FeatureIndex, mark_feature_used
from agent_framework.observability import OBSERVABILITY_SETTINGS, ChatTelemetryLayer
from agent_framework.openai import OpenAIChatCompletionClient, RawOpenAIChatCompletionClient

from agentops.agents.tool_record import ToolRecordOnce


def instrumented() -> bool:
    """Whether Agent Framework's spans and metrics are on in this process now."""
    return bool(OBSERVABILITY_SETTINGS.ENABLED)


class UntracedAgent(AgentMiddlewareLayer, RawAgent[Any]):  # type: ignore[misc]
    """``Agent`` without its telemetry layer."""

    def run(self, *args: Any, **kwargs: Any) -> Any:
        # As Agent.run does: the feature mask is part of the User-Agent every request carries.
        mark_feature_used(FeatureIndex.CORE_AGENT)
        return super().run(*args, **kwargs)


class TracedToolClient(ToolRecordOnce, OpenAIChatCompletionClient[Any]):  # type: ignore[misc]
    """``OpenAIChatCompletionClient`` with its tools' evaluation record built once."""


class UntracedToolClient(  # type: ignore[misc]
    ToolRecordOnce,
    FunctionInvocationLayer[Any],
    ChatMiddlewareLayer[Any],
    RawOpenAIChatCompletionClient[Any],
):
    """``OpenAIChatCompletionClient`` without its telemetry layer, with its tools' evaluation
    record built once."""

    OTEL_PROVIDER_NAME = OpenAIChatCompletionClient.OTEL_PROVIDER_NAME


class UntracedChatClient(ChatMiddlewareLayer[Any], RawOpenAIChatCompletionClient[Any]):  # type: ignore[misc]
    """Chat middleware over the raw client: an agent without tools, instrumentation off."""

    OTEL_PROVIDER_NAME = OpenAIChatCompletionClient.OTEL_PROVIDER_NAME


class TracedChatClient(  # type: ignore[misc]
    ChatMiddlewareLayer[Any], ChatTelemetryLayer[Any], RawOpenAIChatCompletionClient[Any]
):
    """``OpenAIChatCompletionClient`` without the function-invocation layer: an agent without
    tools, instrumentation on."""

    OTEL_PROVIDER_NAME = OpenAIChatCompletionClient.OTEL_PROVIDER_NAME


_NO_FUNCTION_INVOCATION = "does not support function invoking"


class _NoToolsNoLoop(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _NO_FUNCTION_INVOCATION not in record.getMessage()


@contextmanager
def without_loop_warning() -> Iterator[None]:
    """Agent Framework warns, when an agent is built over a client without the
    function-invocation layer, that it "might limit agent capabilities": for an agent without
    tools that is the point, so the warning is dropped while such an agent is built."""
    af_logger = logging.getLogger("agent_framework")
    quiet = _NoToolsNoLoop()
    af_logger.addFilter(quiet)
    try:
        yield
    finally:
        af_logger.removeFilter(quiet)


def agent_class(*, traced: bool) -> type[Any]:
    return Agent if traced else UntracedAgent


def client_class(*, traced: bool, tools: bool) -> type[Any]:
    if tools:
        return TracedToolClient if traced else UntracedToolClient
    return TracedChatClient if traced else UntracedChatClient
