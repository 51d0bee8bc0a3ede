"""Request parsing and error answers shared by devhost's Durable HTTP API routes (instances and
entities): query parameters checked as Azure checks them, bodies stored as JSON text, and the
engine's errors mapped to status codes."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .clock import parse_time

CONTINUATION_HEADER = "x-ms-continuation-token"
Endpoint = Callable[[Request], Awaitable[Response]]


class BadRequestError(ValueError):
    """The request is malformed; answered with 400 and the message."""


def error(status: int, message: str) -> JSONResponse:
    # Message/ExceptionMessage is the shape the SDK reads from a failed start.
    return JSONResponse({"Message": message, "ExceptionMessage": message}, status_code=status)


def flag_param(request: Request, name: str, default: bool) -> bool:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise BadRequestError(f"query parameter '{name}' must be true or false, got '{value}'")
    return lowered == "true"


def time_param(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise BadRequestError(f"query parameter '{name}' is not an ISO 8601 time: {value}") from exc


def int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        number = int(value)
    except ValueError as exc:
        raise BadRequestError(f"query parameter '{name}' must be an integer: {value}") from exc
    if number < 0:
        raise BadRequestError(f"query parameter '{name}' must not be negative: {value}")
    return number


async def json_text(request: Request) -> str | None:
    """The request body as the JSON text to store, or None for an empty body.

    The SDK client JSON-encodes its payload and then posts that string as JSON again; a plain
    client posts the JSON itself. Both end up as the same stored JSON text.
    """
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
        decoded = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequestError(f"the request body is not valid JSON: {exc}") from exc
    if isinstance(decoded, str):
        try:
            json.loads(decoded)
        except json.JSONDecodeError:
            return text
        return decoded
    return text


def guard(endpoint: Endpoint) -> Endpoint:
    """Map the engine's and the parser's errors to 400, 404 and 410."""
    from .engine import InstanceGoneError, InstanceNotFoundError

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except BadRequestError as exc:
            return error(400, str(exc))
        except InstanceNotFoundError as exc:
            return error(404, str(exc))
        except InstanceGoneError as exc:
            return error(410, str(exc))

    return guarded
