"""RFC 9457 problem+json responses: every error at the HTTP edge has this one shape."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import azure.functions as func

PROBLEM_TYPE_BASE = "https://agentops.dev/problems/"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    kind: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> func.HttpResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (kind or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
        **extensions,
    }
    return func.HttpResponse(
        json.dumps(body),
        status_code=status,
        mimetype="application/problem+json",
        headers=dict(headers or {}),
    )


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, default=str),
        status_code=status,
        mimetype="application/json",
        headers=dict(headers or {}),
    )
