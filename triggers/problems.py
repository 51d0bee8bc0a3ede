"""RFC 9457 problem+json responses: every error at the HTTP edge has this one shape."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from triggers.http import HttpResponse
from triggers.responses import FieldError, Problem, Response

PROBLEM_JSON = "application/problem+json"

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
) -> HttpResponse:
    body = Problem(
        type=PROBLEM_TYPE_BASE + (kind or title.lower().replace(" ", "-")),
        title=title,
        status=status,
        detail=detail,
        errors=errors,
        **extensions,
    )
    return HttpResponse(
        body.to_json(), status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


def json_response(
    body: Response, status: int = 200, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    return HttpResponse(
        body.to_json(),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


def problem_kind(response: HttpResponse | None) -> str | None:
    """The last part of a problem answer's `type` (`unknown-run`), None for any other answer."""
    # A streamed answer has no body to read, and is never a problem.
    if response is None or response.media_type != PROBLEM_JSON:
        return None
    try:
        kind = json.loads(response.body).get("type", "")
    except ValueError:
        return None
    return str(kind).rsplit("/", 1)[-1][:64] or None
