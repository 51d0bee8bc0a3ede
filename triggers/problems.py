"""RFC 9457 problem+json responses: every error at the HTTP edge has this one shape."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import azure.functions as func

from triggers.responses import FieldError, Problem, Response

PROBLEM_TYPE_BASE = "https://agentops.dev/problems/"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    kind: str | None = None,
    headers: Mapping[str, str] | None = None,
    errors: list[FieldError] | None = None,
    **extensions: Any,
) -> func.HttpResponse:
    body = Problem(
        type=PROBLEM_TYPE_BASE + (kind or title.lower().replace(" ", "-")),
        title=title,
        status=status,
        detail=detail,
        errors=errors,
        **extensions,
    )
    return func.HttpResponse(
        body.to_json(),
        status_code=status,
        mimetype="application/problem+json",
        headers=dict(headers or {}),
    )


def json_response(
    body: Response, status: int = 200, headers: Mapping[str, str] | None = None
) -> func.HttpResponse:
    return func.HttpResponse(
        body.to_json(), status_code=status, mimetype="application/json", headers=dict(headers or {})
    )


def problem_kind(response: func.HttpResponse | None) -> str | None:
    """The last part of a problem answer's `type` (`unknown-run`), None for any other answer."""
    # A streamed answer (not a func.HttpResponse) is never a problem.
    if response is None or getattr(response, "mimetype", None) != "application/problem+json":
        return None
    try:
        kind = json.loads(response.get_body()).get("type", "")
    except ValueError:
        return None
    return str(kind).rsplit("/", 1)[-1][:64] or None
