"""The agent metrics: agents constructed, agent runs by outcome, and each tool call.

The agent and tool names come from agents.yaml and the tool registry (the runner builds agents
only for declared definitions, and Agent Framework calls only the tools it was given), so every
value is bounded.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from agent_framework import FunctionInvocationContext, FunctionMiddleware

from agentops.instruments import CREATED, EXECUTED, TOOL_DURATION, TOOLS_INVOKED
from agentops.metering import instrument
from agentops.model.types import TransientModelError


def agent_created(agent: str) -> None:
    instrument(CREATED).record(1, {"agent": agent})


def run_outcome(error: BaseException | None) -> str:
    """success; transient_error (worth another try); error (permanent, or not a model failure)."""
    if error is None:
        return "success"
    return "transient_error" if isinstance(error, TransientModelError) else "error"


def agent_executed(agent: str, error: BaseException | None) -> None:
    instrument(EXECUTED).record(1, {"agent": agent, "outcome": run_outcome(error)})


class ToolMetering(FunctionMiddleware):
    """Counts and times every tool call of one agent; a call that raises counts as an error.

    Placed before ``FailOnToolError``, it sees the call's fate as that middleware reports it.
    """

    def __init__(self, agent: str) -> None:
        self._agent = agent

    async def process(
        self,
        context: FunctionInvocationContext,
        call_next: Callable[[], Awaitable[None]],
    ) -> None:
        tool = context.function.name
        started = time.perf_counter()
        outcome = "error"
        try:
            await call_next()
            outcome = "success"
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            instrument(TOOLS_INVOKED).record(
                1, {"agent": self._agent, "tool": tool, "outcome": outcome}
            )
            instrument(TOOL_DURATION).record(elapsed_ms, {"agent": self._agent, "tool": tool})
