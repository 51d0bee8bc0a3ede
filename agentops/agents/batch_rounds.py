"""One item's next Batch API request, or its answer, from the answers its batches gave so far.

A batch-mode item runs the agent's own loop, the one the interactive path runs: ``AgentRunner``
over the same Agent Framework agent, client, options, tools and ``ItemGuard``. Only the model
differs: a replaying transport answers the item's calls with the chat completions its earlier
batches returned, in order, and at the first call that has no answer yet it keeps the request's
body and stops the loop. That body is what goes into the next batch file: byte for byte what the
interactive path would post at that point (``tests/agentops/agents/test_batch_rounds.py``). When
every call has its answer, the loop ends as it does interactively, with the answer text, the
usage of every round, and the same refusals (tool-round limit, output-token budget, content
filter).

Tools run inside that loop, in the activity that builds the round: a round replays the tool
calls of the rounds before it, so tools must be pure functions of their arguments, which the
built-in ones are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

import httpx2
from openai import AsyncOpenAI

from agentops.agents.registry import AgentRegistry
from agentops.agents.runner import AgentRunner
from agentops.model.openai_client import ModelConnection, Transport
from agentops.model.types import ModelAnswer, ModelRequest

# Never dialled: the replaying transport answers every request in process.
_REPLAY_URL = "http://batch-replay.invalid/v1"


@dataclass(frozen=True, slots=True)
class NextRequest:
    """The item needs the model once more: this chat completion body goes into a batch."""

    body: bytes  # JSON, as the SDK would post it
    round: int  # 1 for the item's first call


@dataclass(frozen=True, slots=True)
class Answered:
    answer: ModelAnswer


Step = NextRequest | Answered


class _Replay:
    """The calls of one item: answered from ``responses``, then the first unanswered kept."""

    def __init__(self, responses: Sequence[Mapping[str, Any]]) -> None:
        self.responses = responses
        self.calls = 0
        self.pending: bytes | None = None


class _AwaitingBatch(Exception):
    """Stops the agent's loop at the call the next batch will answer."""


_current: ContextVar[_Replay] = ContextVar("batch_replay")


def _answer_from_replay(request: httpx2.Request) -> httpx2.Response:
    replay = _current.get()
    number = replay.calls
    replay.calls += 1
    if number < len(replay.responses):
        return httpx2.Response(200, json=dict(replay.responses[number]))
    replay.pending = request.content
    raise _AwaitingBatch


class BatchRounds:
    """Builds batch-mode items' requests and answers through the registry's agents."""

    def __init__(self, registry: AgentRegistry) -> None:
        self._registry = registry
        client = AsyncOpenAI(
            base_url=_REPLAY_URL,
            api_key="unused",  # nothing leaves the process
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(_answer_from_replay)),
        )
        self._connection = ModelConnection(client, label="batch replay", transport=Transport.HTTPX)
        self._runner = AgentRunner(registry, self._connection)

    def batch_request(self, request: ModelRequest) -> ModelRequest:
        """``request`` addressed to the agent's batch deployment."""
        target = self._registry.get(request.agent).batch_target
        return replace(request, deployment=target)

    async def step(
        self, request: ModelRequest, responses: Sequence[Mapping[str, Any]] = ()
    ) -> Step:
        """The item's next request, given the chat completions its batches returned so far.

        Raises what the interactive path raises for the same answers (``PermanentModelError``
        past the tool-round limit, for instance).
        """
        replay = _Replay(responses)
        token = _current.set(replay)
        try:
            answer = await self._runner.invoke(request)
        except Exception:
            if replay.pending is None:
                raise
            return NextRequest(body=replay.pending, round=replay.calls)
        finally:
            _current.reset(token)
        return Answered(answer)

    async def aclose(self) -> None:
        await self._connection.aclose()
