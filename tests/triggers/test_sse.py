"""Server-Sent Events at the edge: negotiation, encoding, and the stream's end."""

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentops.conversations import UnknownThreadError
from agentops.model.stream_events import TextDelta, ToolCalled, ToolReturned
from agentops.model.types import PermanentModelError
from triggers.sse import (
    AnswerPump,
    NotAcceptable,
    event_stream,
    wants_event_stream,
)

DONE = {
    "agent": "summarizer",
    "thread_id": "a" * 32,
    "answer": "Hi there",
    "model": "gpt-4o-mini",
    "cached": False,
    "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
    "cost": 0.001,
    "messages": 2,
}


@pytest.mark.parametrize(
    ("accept", "streams"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("text/event-stream", True),
        ("text/event-stream, application/json", False),  # a tie keeps the JSON form
        ("application/json;q=0.5, text/event-stream", True),
        ("text/*", True),
        ("text/event-stream;q=0, */*", False),
    ],
)
def test_negotiation(accept: str | None, streams: bool) -> None:
    assert wants_event_stream(accept) is streams


@pytest.mark.parametrize("accept", ["image/png", "text/event-stream;q=x", "text/*;q=2"])
def test_unacceptable(accept: str) -> None:
    with pytest.raises(NotAcceptable):
        wants_event_stream(accept)


async def items(*values: Any, error: Exception | None = None) -> AsyncIterator[Any]:
    for value in values:
        yield value
    if error is not None:
        raise error


def parse(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in body.decode().split("\n\n")[:-1]:
        name, data = block.split("\n")
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    assert body.endswith(b"\n\n")
    return events


async def stream_of(*values: Any, error: Exception | None = None) -> bytes:
    pump = AnswerPump(items(*values, error=error))
    first = await anext(pump)
    return b"".join([chunk async for chunk in event_stream(first, pump)])


async def test_pieces_then_done() -> None:
    body = await stream_of(ToolCalled("add", "c1"), ToolReturned("c1"), TextDelta("Hi "), DONE)
    events = parse(body)
    assert events[:3] == [
        ("tool_call", {"name": "add", "callId": "c1"}),
        ("tool_result", {"callId": "c1"}),
        ("delta", {"text": "Hi "}),
    ]
    name, done = events[3]
    assert name == "done" and len(events) == 4
    assert done["threadId"] == "a" * 32 and done["usage"]["totalTokens"] == 12


async def test_a_model_failure_ends_with_its_problem() -> None:
    error = PermanentModelError("invalid tool call: no such tool")
    events = parse(await stream_of(TextDelta("x"), error=error))
    name, problem = events[-1]
    assert name == "error"
    assert problem["status"] == 422 and problem["type"].endswith("/model-refused")
    assert problem["detail"] == "invalid tool call: no such tool"


async def test_a_bug_ends_with_a_problem_that_tells_nothing() -> None:
    events = parse(await stream_of(TextDelta("x"), error=RuntimeError("secret internals")))
    name, problem = events[-1]
    assert name == "error" and problem["status"] == 500
    assert "secret" not in json.dumps(problem)


async def test_a_refusal_before_any_output_raises_to_the_route() -> None:
    pump = AnswerPump(items(error=UnknownThreadError("no conversation with this thread_id")))
    with pytest.raises(UnknownThreadError):
        await anext(pump)
