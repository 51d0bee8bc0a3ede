"""The HTTP request metrics: one count and one duration per audited request, and one error per
answer of 400 and above.

Every attribute value comes from a bounded set, whatever the caller sends: the route template
(`agentops.request_naming`), the method, the status code and its
class, the problem kind (a constant of the app), and the agent only when the route names one that
agents.yaml declares. A raw path, an id or an unknown agent name never becomes a value: each would
let a caller grow the number of series without bound.
"""

from __future__ import annotations

import time
from collections.abc import Container

from agentops.instruments import ERRORS, REQUEST_DURATION, REQUESTS
from agentops.metering import AttributeValue, instrument
from agentops.request_naming import outcome_of, request_method, route_template
from triggers.http import HttpResponse, Request
from triggers.problems import problem_kind


def record_request(
    req: Request,
    response: HttpResponse | None,
    started: float,
    agents: Container[str],
) -> None:
    """Count the request that began at ``started`` (``time.perf_counter``); ``response`` None:
    the route raised and the host answers 500."""
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    status = 500 if response is None else response.status_code
    route = route_template(str(req.url), req.path_params)
    attributes: dict[str, AttributeValue] = {
        "http.route": route,
        "http.request.method": request_method(req.method),
        "http.response.status_code": status,
        "outcome": outcome_of(status),
    }
    agent = req.path_params.get("agent")
    if agent is not None and agent in agents:
        attributes["agent"] = agent
    instrument(REQUESTS).record(1, attributes)
    instrument(REQUEST_DURATION).record(elapsed_ms, attributes)
    if status >= 400:
        error = {"http.route": route, "error.type": problem_kind(response) or f"{status // 100}xx"}
        if "agent" in attributes:
            error["agent"] = attributes["agent"]
        instrument(ERRORS).record(1, error)
