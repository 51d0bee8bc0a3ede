"""The HTTP request metrics: one count and one duration per audited request, and one error per
answer of 400 and above.

Every attribute value comes from a bounded set, whatever the caller sends: the route template
(the path with each route parameter put back as ``{name}``), the method, the status code and its
class, the problem kind (a constant of the app), and the agent only when the route names one that
agents.yaml declares. A raw path, an id or an unknown agent name never becomes a value: each would
let a caller grow the number of series without bound.
"""

from __future__ import annotations

import time
from collections.abc import Container, Mapping
from urllib.parse import unquote, urlsplit

import azure.functions as func

from agentops.instruments import ERRORS, REQUEST_DURATION, REQUESTS
from agentops.metering import AttributeValue, instrument
from triggers.problems import problem_kind

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
    return "/".join(s if n else s.lower() for s, n in zip(segments, named, strict=True))


def outcome_of(status: int) -> str:
    if status < 400:
        return "success"
    return "client_error" if status < 500 else "server_error"


def record_request(
    req: func.HttpRequest,
    response: func.HttpResponse | None,
    started: float,
    agents: Container[str],
) -> None:
    """Count the request that began at ``started`` (``time.perf_counter``); ``response`` None:
    the route raised and the host answers 500."""
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    status = 500 if response is None else response.status_code
    route = route_template(req.url, req.route_params)
    attributes: dict[str, AttributeValue] = {
        "http.route": route,
        "http.request.method": req.method.upper() if req.method.upper() in _METHODS else "_OTHER",
        "http.response.status_code": status,
        "outcome": outcome_of(status),
    }
    agent = req.route_params.get("agent")
    if agent is not None and agent in agents:
        attributes["agent"] = agent
    instrument(REQUESTS).record(1, attributes)
    instrument(REQUEST_DURATION).record(elapsed_ms, attributes)
    if status >= 400:
        error = {"http.route": route, "error.type": problem_kind(response) or f"{status // 100}xx"}
        if "agent" in attributes:
            error["agent"] = attributes["agent"]
        instrument(ERRORS).record(1, error)
