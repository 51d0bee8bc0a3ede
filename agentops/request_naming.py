"""How an HTTP request is named in telemetry: its route template, method and outcome.

The request span (`agentops.tracing`) and the request metrics (`triggers.request_metrics`) use
these, so a span and a metric point of one request carry the same words. Every value comes from a
bounded set, whatever the caller sends: a raw path, an id or an unknown method would let a caller
grow the number of metric series without bound, and would put caller text into span names.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

UNMATCHED_ROUTE = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(url: str, route_params: Mapping[str, str]) -> str:
    """``/api/runs/{run_id}`` for ``/api/runs/0f3c...``: each route parameter's segment named.

    The host matched the path to a route, so the segments that no parameter fills are the
    route's literals. A value that equals a literal may take the literal's place (an agent
    named ``runs``); the result is still drawn from the route's own words. A parameter whose
    value is not a whole segment (a catch-all) gives ``unmatched`` rather than the path.
    """
    segments = [unquote(part) for part in urlsplit(url).path.split("/")]
    named = [False] * len(segments)
    for name, value in route_params.items():
        for index, segment in enumerate(segments):
            if not named[index] and segment == value:
                segments[index], named[index] = "{" + name + "}", True
                break
        else:
            return UNMATCHED_ROUTE
    # Routes match regardless of case: one series per route, not per spelling.
    return "/".join(s if n else s.lower() for s, n in zip(segments, named, strict=True)) or "/"


def request_method(method: str | None) -> str:
    """The method as sent when it is a standard one, ``_OTHER`` otherwise (OpenTelemetry's word)."""
    upper = (method or "").upper()
    return upper if upper in _METHODS else "_OTHER"


def outcome_of(status: int) -> str:
    if status < 400:
        return "success"
    return "client_error" if status < 500 else "server_error"
