"""RFC 9457 problem+json responses for devhost's own errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus

from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int, detail: str, *, headers: Mapping[str, str] | None = None, **extra: object
) -> Response:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return Response(
        json.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )
