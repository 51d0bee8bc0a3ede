"""The events of a streamed answer (`Accept: text/event-stream` on the ask route).

Each Server-Sent Event has a name and one JSON object as its data:

- `delta`: a piece of the answer's text, in order (`{"text": ...}`);
- `tool_call`: the model asked for a tool, before it runs (`{"name": ..., "callId": ...}`);
- `tool_result`: that tool ran and its result went back to the model (`{"callId": ...}`);
- `done`: the last event of an answer, the same `Answer` the JSON route returns (thread,
  usage, cost), sent once the exchange is stored;
- `error`: the last event of a stream that failed after it began, a problem details object.
"""

from __future__ import annotations

from triggers.responses import Response

EVENT_NAMES = ("delta", "tool_call", "tool_result", "done", "error")


class TextDeltaEvent(Response):
    text: str


class ToolCallEvent(Response):
    name: str
    call_id: str


class ToolResultEvent(Response):
    call_id: str


STREAM_EVENT_MODELS: tuple[type[Response], ...] = (TextDeltaEvent, ToolCallEvent, ToolResultEvent)
