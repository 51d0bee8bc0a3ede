"""Server-Sent Events at the HTTP edge: content negotiation, encoding, the streamed response.

The ask route streams when the caller's Accept header prefers `text/event-stream`. Refusals
(bad body, unknown thread, budget) are found before the first event and answered as
problem+json with their status; a failure after the stream began ends it with an `error` event.

The host sends the chunks as they are written: Azure Functions through the HTTP streams
extension (`triggers.http`), devhost as Azure does.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from agentops.model.stream_events import StreamPiece, TextDelta, ToolCalled, ToolReturned
from triggers.edge import CALLER_ERRORS, problem_for
from triggers.http import HttpResponse, StreamingResponse
from triggers.problems import problem
from triggers.responses import Answer, Response
from triggers.stream_responses import TextDeltaEvent, ToolCallEvent, ToolResultEvent

logger = logging.getLogger(__name__)

EVENT_STREAM = "text/event-stream"
# Proxies (nginx, App Service front ends) must pass each event on, not hold the body back.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class NotAcceptable(ValueError):
    """The Accept header admits neither JSON nor an event stream."""


def wants_event_stream(accept: str | None) -> bool:
    """True when `accept` names `text/event-stream` (or `text/*`) above `application/json`;
    NotAcceptable when it admits neither. No header, or only wildcards, means JSON, as before
    streaming existed; JSON wins a tie."""
    if not accept or not accept.strip():
        return False
    stream_q = json_q = wildcard_q = 0.0
    for media_range in accept.split(","):
        kind, _, params = media_range.strip().partition(";")
        kind = kind.strip().lower()
        q = _quality(params)
        if kind in ("text/event-stream", "text/*"):
            stream_q = max(stream_q, q)
        elif kind == "application/json":
            json_q = max(json_q, q)
        elif kind in ("application/*", "*/*"):
            wildcard_q = max(wildcard_q, q)
    if stream_q == 0 and json_q == 0 and wildcard_q == 0:
        raise NotAcceptable("this route answers application/json or text/event-stream")
    return stream_q > json_q


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                raise NotAcceptable(f"bad quality value in Accept: {value[:16]!r}") from None
            if not 0 <= q <= 1:
                raise NotAcceptable("quality values in Accept lie between 0 and 1")
            return q
    return 1.0


class AnswerPump[T]:
    """Runs an answer's async iterator to its end in one task of its own, handing items over.

    The first item is awaited by the function and the rest by the host's streaming response,
    in another task: context variables (log context, Agent Framework's telemetry) must be set
    and reset in one context, so the iterator never moves between tasks. `aclose` (the client
    left) cancels the task, which stops the model call; the gateway bills what it generated.
    """

    def __init__(self, items: AsyncIterator[T], *, buffer: int = 64) -> None:
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize=buffer)
        self._task = asyncio.create_task(self._run(items))

    async def _run(self, items: AsyncIterator[T]) -> None:
        try:
            async for item in items:
                await self._queue.put(("item", item))
        except Exception as error:
            await self._queue.put(("error", error))
        else:
            await self._queue.put(("end", None))

    def __aiter__(self) -> AnswerPump[T]:
        return self

    async def __anext__(self) -> T:
        kind, value = await self._queue.get()
        if kind == "error":
            raise value
        if kind == "end":
            raise StopAsyncIteration
        return value  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        self._task.cancel()  # not awaited: the caller may itself be cancelled


def not_acceptable(error: NotAcceptable) -> HttpResponse:
    return problem(406, "Not acceptable", str(error), kind="not-acceptable")


def encode(event: str, data: Response | dict[str, Any]) -> bytes:
    """One event: its name and its data on one line (JSON has no raw newlines)."""
    body = data.to_json() if isinstance(data, Response) else json.dumps(data)
    return f"event: {event}\ndata: {body}\n\n".encode()


def piece_event(piece: StreamPiece) -> bytes:
    match piece:
        case TextDelta(text=text):
            return encode("delta", TextDeltaEvent(text=text))
        case ToolCalled(name=name, call_id=call_id):
            return encode("tool_call", ToolCallEvent(name=name, call_id=call_id))
        case ToolReturned(call_id=call_id):
            return encode("tool_result", ToolResultEvent(call_id=call_id))


def error_event(error: BaseException) -> bytes:
    """The problem details of a failure after the stream began, as the last event."""
    if isinstance(error, CALLER_ERRORS):
        response = problem_for(error)
    else:
        logger.error("streamed answer failed", exc_info=error)
        response = problem(500, "Internal error", "the answer failed; see the host log")
    return encode("error", json.loads(response.body))


async def event_stream(
    first: StreamPiece | dict[str, Any],
    rest: AnswerPump[StreamPiece | dict[str, Any]],
) -> AsyncIterator[bytes]:
    """Encode the answer's items, the first already taken from `rest`."""
    try:
        item = first
        while True:
            if isinstance(item, dict):
                yield encode("done", Answer.model_validate(item))
                return
            yield piece_event(item)
            item = await anext(rest)
    except StopAsyncIteration:
        yield error_event(RuntimeError("the answer ended without its result"))
    except Exception as error:
        yield error_event(error)
    finally:
        await rest.aclose()


def streamed(body: AsyncIterator[bytes]) -> StreamingResponse:
    """Chunks sent as they are produced."""
    return StreamingResponse(body, media_type=EVENT_STREAM, headers=STREAM_HEADERS)
