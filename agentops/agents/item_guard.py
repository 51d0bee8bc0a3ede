"""Limits on one item's tool loop, checked at every model call inside it.

Agent Framework's loop asks the model, runs the tools it called, and asks again. ``ItemGuard`` is
chat middleware, so it sits under that loop and sees each model call on its own:

- it counts what each call cost, so a failed item still reports the tokens it spent;
- a call to a tool the agent does not declare (an agent without tools included) fails the item
  before anything runs: Agent Framework would otherwise hand back an empty answer when the agent
  has no tools at all;
- more tool rounds than ``max_tool_rounds`` fail the item, rather than letting Agent Framework
  make one more call with tools switched off and return whatever that produces;
- the output tokens of all calls together stay within ``max_total_output_tokens``: each call's
  ``max_tokens`` is cut to what is left, so the endpoint itself enforces the budget, and an item
  that runs out of it fails instead of returning a cut-off answer.

One guard serves one ``Agent.run``: it holds that run's counts. On a streamed run the same
checks run on each call's finished response, and the guard also counts the pieces of the call
in progress (``pending``), so a stream the client cut short is billed for what it generated:
an endpoint reports a streamed call's usage only at its end.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

from agent_framework import (
    ChatContext,
    ChatMiddleware,
    ChatResponse,
    ChatResponseUpdate,
    MiddlewareFailure,
    ResponseStream,
)

from agentops.logging_safety import printable
from agentops.model.rate_limiter import CHARS_PER_TOKEN, TOKENS_PER_MESSAGE
from agentops.model.types import Usage

_MAX_TOOL_NAME = 64


class ItemGuard(ChatMiddleware):
    def __init__(
        self,
        *,
        agent: str,
        tools: Collection[str],
        max_tool_rounds: int,
        max_output_tokens: int,
        max_total_output_tokens: int,
    ) -> None:
        if max_tool_rounds < 1:
            raise ValueError("max_tool_rounds must be at least 1")
        if not 1 <= max_output_tokens <= max_total_output_tokens:
            raise ValueError("need 1 <= max_output_tokens <= max_total_output_tokens")
        self._agent = agent
        self._tools = frozenset(tools)
        self._max_rounds = max_tool_rounds
        self._max_call_tokens = max_output_tokens
        self._max_total_tokens = max_total_output_tokens
        self.usage = Usage()
        # The streamed call in progress: its prompt estimated, its output counted piece by
        # piece (one piece is one token); replaced by the reported usage when the call ends.
        self.pending = Usage()
        self.model_calls = 0
        self.tool_rounds = 0

    async def process(self, context: ChatContext, call_next: Callable[[], Awaitable[None]]) -> None:
        left = self._max_total_tokens - self.usage.completion_tokens
        if left <= 0:
            raise MiddlewareFailure(self._out_of_tokens())
        limit = min(self._max_call_tokens, left)
        context.options["max_tokens"] = limit
        await call_next()
        self.model_calls += 1
        response = context.result
        if isinstance(response, ResponseStream):
            self.pending = Usage(prompt_tokens=_prompt_estimate(context))
            response.with_update_transform(self._count_piece)
            response.with_result_transform(lambda final: self._finish_stream(final, limit))
            return
        if isinstance(response, ChatResponse):
            self._after_call(response, limit)

    def _count_piece(self, update: ChatResponseUpdate) -> ChatResponseUpdate:
        pieces = sum(
            1
            for content in update.contents
            if (content.type == "text" and content.text)
            or (content.type == "function_call" and (content.name or content.arguments))
        )
        if pieces:
            self.pending += Usage(completion_tokens=pieces)
        return update

    def _finish_stream(self, response: ChatResponse, limit: int) -> ChatResponse:
        self.pending = Usage()
        self._after_call(response, limit)
        return response

    def _after_call(self, response: ChatResponse, limit: int) -> None:
        self.usage += _usage(response.usage_details)
        called = [
            content.name or ""
            for message in response.messages
            for content in message.contents
            if content.type == "function_call"
        ]
        if called:
            self._check_calls(called)
        elif response.finish_reason == "length" and limit < self._max_call_tokens:
            # Cut by the item's budget, not by the per-answer limit: the answer is unfinished.
            raise MiddlewareFailure(self._out_of_tokens())

    def _check_calls(self, called: list[str]) -> None:
        undeclared = next((name for name in called if name not in self._tools), None)
        if undeclared is not None:
            shown = printable(undeclared, _MAX_TOOL_NAME)
            if self._tools:
                raise MiddlewareFailure(
                    f"invalid tool call: the model called tool '{shown}', "
                    f"which agent {self._agent} does not have"
                )
            raise MiddlewareFailure(
                f"invalid tool call: the model called tool '{shown}', "
                f"but agent {self._agent} has no tools"
            )
        self.tool_rounds += 1
        if self.tool_rounds > self._max_rounds:
            raise MiddlewareFailure(
                f"tool round limit: the model asked for more than {self._max_rounds} "
                "rounds of tool calls"
            )

    def _out_of_tokens(self) -> str:
        return (
            f"output token limit: the model wrote {self.usage.completion_tokens} tokens over "
            f"{self.model_calls} calls, the item's limit is {self._max_total_tokens}"
        )


def _prompt_estimate(context: ChatContext) -> int:
    """The call's prompt (instructions and messages) as the rate limiter estimates one: about
    four characters a token, plus each message's framing."""
    instructions = str(context.options.get("instructions") or "")
    chars = len(instructions) + sum(len(message.text or "") for message in context.messages)
    messages = len(context.messages) + (1 if instructions else 0)
    return -(-chars // CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * messages


def _usage(details: Any) -> Usage:
    if not details:
        return Usage()
    return Usage(
        prompt_tokens=int(details.get("input_token_count") or 0),
        completion_tokens=int(details.get("output_token_count") or 0),
    )
