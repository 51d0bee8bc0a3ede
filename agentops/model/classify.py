"""Sort the exceptions of a model call into permanent and transient failures.

Agent Framework wraps every OpenAI SDK error in a ``ChatClientException`` and keeps the original
as its ``__cause__``, so the classifier walks the cause chain and decides on the first exception
it recognises. The statuses follow the OpenAI SDK's own retry rule (408, 409, 429 and 5xx are worth
another attempt), because the SDK's retries are switched off and this decision replaces them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import openai
from agent_framework import MiddlewareFailure
from agent_framework._tools import (  # private, but the only signal for a fatal unknown tool call
    _UnknownFunctionCallError,
)
from agent_framework.exceptions import ChatClientContentFilterException

from agentops.model.types import ModelError, PermanentModelError, TransientModelError

logger = logging.getLogger(__name__)

_RETRYABLE_STATUSES = frozenset({408, 409, 429})
_MAX_CHAIN = 16
_MAX_REASON = 500


def classify_model_error(exc: BaseException) -> ModelError | None:
    """The domain error for ``exc``, or ``None`` when it is no model failure (a bug: re-raise it).

    The returned error has ``exc`` as its cause when the caller raises it ``from exc``.
    """
    for link in _cause_chain(exc):
        error = _classify_one(link)
        if error is not None:
            return error
    return None


def retry_after_seconds(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """The wait a throttled endpoint asks for: ``retry-after-ms`` first, then ``retry-after``.

    ``retry-after`` is either a number of seconds or an HTTP date. Unparseable, negative or
    non-finite values are ignored, as the OpenAI SDK ignores them.
    """
    millis = _number(_header(headers, "retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    seconds = _number(raw)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _classify_one(exc: BaseException) -> ModelError | None:
    if isinstance(exc, ModelError):
        return exc
    if isinstance(exc, ChatClientContentFilterException | openai.ContentFilterFinishReasonError):
        inner = exc.__cause__
        if isinstance(inner, openai.APIStatusError):
            return PermanentModelError(
                _trim(f"content filter: {_error_detail(inner)}"), status=inner.status_code
            )
        return PermanentModelError("content filter: the prompt or answer was filtered")
    if isinstance(exc, openai.APIStatusError):
        return _classify_status(exc)
    if isinstance(exc, openai.APITimeoutError):
        return TransientModelError("timeout: the model endpoint did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        return TransientModelError(_trim(f"connection failed: {_cause_text(exc)}"))
    if isinstance(exc, openai.APIResponseValidationError):
        return PermanentModelError(
            "invalid response: the endpoint's answer does not match the API schema",
            status=exc.status_code,
        )
    if isinstance(exc, _UnknownFunctionCallError):
        name = exc.args[0] if exc.args else "unknown tool"
        return PermanentModelError(_trim(f"invalid tool call: {name}"))
    if isinstance(exc, MiddlewareFailure):
        return PermanentModelError(_trim(str(exc)))
    if isinstance(exc, TimeoutError):
        return TransientModelError("timeout: the model call took longer than allowed")
    if isinstance(exc, ConnectionError):
        return TransientModelError(f"connection failed: {type(exc).__name__}")
    return None


def _classify_status(exc: openai.APIStatusError) -> ModelError:
    status = exc.status_code
    detail = _error_detail(exc)
    if exc.code == "content_filter":
        return PermanentModelError(_trim(f"content filter: {detail}"), status=status)
    # The endpoint may say explicitly whether a retry can help; the SDK honours this header too.
    should_retry = (_header(exc.response.headers, "x-should-retry") or "").lower()
    retryable = status in _RETRYABLE_STATUSES or status >= 500
    if should_retry == "true":
        retryable = True
    elif should_retry == "false":
        retryable = False
    reason = _trim(f"{status} {_STATUS_NAMES.get(status, 'error')}: {detail}")
    if retryable:
        return TransientModelError(
            reason, status=status, retry_after_s=retry_after_seconds(exc.response.headers)
        )
    return PermanentModelError(reason, status=status)


_STATUS_NAMES = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    408: "request timeout",
    409: "conflict",
    413: "payload too large",
    422: "unprocessable entity",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def _error_detail(exc: openai.APIStatusError) -> str:
    """The endpoint's own message (``{"error": {"message": ...}}``), else the SDK's text."""
    body = exc.body
    if isinstance(body, Mapping):
        message = body.get("message")
        code = body.get("code") or body.get("type")
        if isinstance(message, str) and message:
            return _trim(f"{message} ({code})" if code else message)
    if isinstance(body, str) and body:
        return _trim(body)
    return _trim(exc.message)


def _cause_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < _MAX_CHAIN:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _cause_text(exc: BaseException) -> str:
    """Name the transport error under the SDK's generic "Connection error."."""
    inner = exc.__cause__ or exc.__context__
    if inner is None:
        return _trim(str(exc))
    text = str(inner)
    return _trim(f"{type(inner).__name__}: {text}" if text else type(inner).__name__)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        # Plain dicts are case-sensitive; httpx headers are not.
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value.strip() if isinstance(value, str) else None


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return value


def _trim(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."
