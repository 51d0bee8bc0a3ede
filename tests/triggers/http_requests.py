"""Requests for calling the app's HTTP functions directly, shaped as Azure's worker hands them
over with the HTTP streams extension: a FastAPI request with the route's values in
`path_params` and the body readable once as a stream."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

from starlette.types import Message

from triggers.http import Request


def http_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    route_params: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> Request:
    parts = urlsplit(url)
    query = urlencode(dict(params)) if params else parts.query
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": parts.scheme or "http",
        "server": (parts.hostname or "127.0.0.1", parts.port or 80),
        "path": parts.path or "/",
        "raw_path": (parts.path or "/").encode(),
        "query_string": query.encode(),
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in (headers or {}).items()
        ],
        "path_params": dict(route_params or {}),
    }
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)
