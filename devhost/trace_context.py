"""The trace context devhost hands each invocation (`context.trace_context`), as Azure does.

The Functions host gives every invocation a W3C trace context: for an HTTP request, in the trace
of the caller's ``traceparent`` header (a new trace without one); for an orchestration and its
activities, with Durable's distributed tracing, in the trace of whoever started the
orchestration (the Durable SDK's client sends its current context as ``traceparent`` on the
start request). devhost does the same, with one difference: it exports no spans of its own, so
the parent it names is the caller's span itself rather than a host span the caller's children
would hang from; the trace, and so every id an operator searches by, is the same.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# version-traceid-parentid-flags; a later version may append fields, which are dropped here.
_TRACEPARENT = re.compile(
    r"^(?P<version>[0-9a-f]{2})-(?P<trace>[0-9a-f]{32})-(?P<span>[0-9a-f]{16})-(?P<flags>[0-9a-f]{2})"
    r"(?:-.*)?$"
)
_MAX_TRACESTATE = 512  # W3C: vendors may drop a longer tracestate


@dataclass(frozen=True, slots=True)
class InvocationTrace:
    trace_parent: str
    trace_state: str = ""

    @classmethod
    def from_header(cls, traceparent: str | None, tracestate: str | None) -> InvocationTrace | None:
        """The context a caller's headers name; None when ``traceparent`` is absent or invalid
        (the W3C rules: version ff, an all-zero trace or parent id, or version 00 with more)."""
        text = (traceparent or "").strip().lower()
        found = _TRACEPARENT.match(text)
        if found is None:
            return None
        version, trace, span, flags = found.group("version", "trace", "span", "flags")
        if version == "ff" or set(trace) == {"0"} or set(span) == {"0"}:
            return None
        if version == "00" and len(text) != 55:
            return None
        state = (tracestate or "").strip()
        return cls(f"00-{trace}-{span}-{flags}", state if len(state) <= _MAX_TRACESTATE else "")

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> InvocationTrace | None:
        return cls.from_header(headers.get("traceparent"), headers.get("tracestate"))

    @classmethod
    def new_trace(cls, trace_id: str) -> InvocationTrace:
        """A context starting trace `trace_id` (32 hex digits), sampled."""
        return cls(f"00-{trace_id}-{secrets.token_hex(8)}-01")

    def to_event(self) -> dict[str, str]:
        """As Durable keeps it on ExecutionStarted (``ParentTraceContext``)."""
        return {"TraceParent": self.trace_parent, "TraceState": self.trace_state}

    @classmethod
    def from_event(cls, value: Any) -> InvocationTrace | None:
        if not isinstance(value, dict):
            return None
        return cls.from_header(value.get("TraceParent"), value.get("TraceState"))

    def to_message(self) -> dict[str, str]:
        return {"trace_parent": self.trace_parent, "trace_state": self.trace_state}

    @classmethod
    def from_message(cls, value: Any) -> InvocationTrace | None:
        if not isinstance(value, dict):
            return None
        return cls.from_header(value.get("trace_parent"), value.get("trace_state"))
