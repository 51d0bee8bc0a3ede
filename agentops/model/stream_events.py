"""What a streamed answer yields before its end: text as it is written, tools as they run.

The runner and the gateway yield these, then the finished ``ModelAnswer`` last; the HTTP edge
turns each into a Server-Sent Event.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentops.model.types import ModelAnswer


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCalled:
    """The model asked for a tool (before it runs)."""

    name: str
    call_id: str


@dataclass(frozen=True, slots=True)
class ToolReturned:
    """A tool the model asked for ran; its result went back to the model."""

    call_id: str


StreamPiece = TextDelta | ToolCalled | ToolReturned
StreamItem = StreamPiece | ModelAnswer

__all__ = ["StreamItem", "StreamPiece", "TextDelta", "ToolCalled", "ToolReturned"]
