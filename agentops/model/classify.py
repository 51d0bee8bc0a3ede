"""Sort the exceptions of a model call into permanent and transient failures.

Agent Framework wraps every OpenAI SDK error in a ``ChatClientException`` and keeps the original
as its ``__cause__``, so the classifier walks the cause chain and decides on the first exception
it recognises. The statuses follow the OpenAI SDK's own retry rule (408, 409, 429 and 5xx are worth
another attempt), because the SDK's retries are switched off and this decision replaces them.

A reason reaches callers (item results, problem+json details), so it keeps the status, the error
code and a short message, and nothing else: an endpoint's message can echo the request (the
agent's instructions), a key (``Incorrect API key provided: sk-...abcd``), a token or a server
path. ``public_reason`` takes those out; a message that echoes the instructions is withheld whole.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import openai
from agent_framework import MiddlewareFailure
from agent_framework._tools import (  # private, but the only signal for a fatal unknown tool call
    _UnknownFunctionCallError,
)
from agent_framework.exceptions import ChatClientContentFilterException

from agentops.logging_safety import printable
from agentops.model.types import ModelError, PermanentModelError, TransientModelError

logger = logging.getLogger(__name__)

_RETRYABLE_STATUSES = frozenset({408, 409, 429})
_MAX_CHAIN = 16
_MAX_REASON = 500
_MAX_DETAIL = 200
_ECHO_WINDOW = 32  # a run of this many characters of the instructions in a message is an echo
_ECHO_STEP = 8

_TRACEBACK = re.compile(r"Traceback \(most recent call last\).*", re.DOTALL)
_FRAME = re.compile(r'File "[^"]*", line \d+(?:, in \S+)?')
_PATH = re.compile(r"(?<![\w:/.-])(?:/[\w.@+-]+){2,}/?|\b[A-Za-z]:\\(?:[\w.@+-]+\\?)+")
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[^\s,;\"'}]+", re.IGNORECASE)
_NAMED_SECRET = re.compile(
    r"\b(api[-_ ]?key|authorization|ocp-apim-subscription-key|subscription[-_ ]key|"
    r"access[-_ ]token|client[-_ ]secret|password|secret|sig|signature|token)"
    r"(\"?\s*[:=]\s*\"?|'?\s*[:=]\s*'?)(?!\[redacted\])[^\s,;\"'}&]+",
    re.IGNORECASE,
)
_OPENAI_KEY = re.compile(r"\bsk-[\w*.-]{3,}")
_LONG_TOKEN = re.compile(r"(?<![\w/+-])[A-Za-z0-9_+/-]{32,}={0,2}")


def classify_model_error(exc: BaseException, *, private: Sequence[str] = ()) -> ModelError | None:
    """The domain error for ``exc``, or ``None`` when it is no model failure (a bug: re-raise it).

    ``private`` is text a caller must never see (the agent's instructions): a message that echoes
    it is withheld. The returned error has ``exc`` as its cause when the caller raises it
    ``from exc``.
    """
    for link in _cause_chain(exc):
        error = _classify_one(link)
        if error is not None:
            if error is not link:
                error.reason = public_reason(error.reason, private=private)
                error.args = (error.reason,)
            return error
    return None


def public_reason(text: str, *, private: Sequence[str] = (), limit: int = _MAX_REASON) -> str:
    """``text`` fit for a caller: no traceback, path, key or token, and no echo of ``private``.

    An echo of ``private`` withholds everything after the reason's ``<status> <name>:`` head,
    since what surrounds an echoed prompt is more of the request.
    """
    if any(_echoes(text, secret) for secret in private):
        head, sep, _ = text.partition(": ")
        withheld = "the message quoted the request and is withheld"
        return f"{head}: {withheld}" if sep else withheld
    text = _TRACEBACK.sub("[traceback]", text)
    text = _FRAME.sub("[frame]", text)
    text = _BEARER.sub(r"\1 [redacted]", text)
    text = _NAMED_SECRET.sub(r"\1\2[redacted]", text)
    text = _OPENAI_KEY.sub("sk-[redacted]", text)
    text = _LONG_TOKEN.sub(_token_or_word, text)
    text = _PATH.sub("[path]", text)
    return printable(text, limit)


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
        detail = exc.args[0] if exc.args else "the model called a tool the agent does not have"
        return PermanentModelError(f"invalid tool call: {printable(detail, _MAX_DETAIL)}")
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
    """The endpoint's own message (``{"error": {"message": ...}}``), else the SDK's text.

    Scrubbed before it is cut, so that a key is never cut into a part the patterns miss.
    """
    body = exc.body
    if isinstance(body, Mapping):
        message = body.get("message")
        code = body.get("code") or body.get("type")
        if isinstance(message, str) and message:
            text = f"{message} ({code})" if isinstance(code, str) and code else message
            return public_reason(text, limit=_MAX_DETAIL)
    if isinstance(body, str) and body:
        return public_reason(body, limit=_MAX_DETAIL)
    return public_reason(exc.message, limit=_MAX_DETAIL)


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


def _trim(text: str, limit: int = _MAX_REASON) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _token_or_word(match: re.Match[str]) -> str:
    """A long run with digits and letters is a key, a token or a signature; a long word is not."""
    token = match.group()
    has_digit = any(c.isdigit() for c in token)
    has_letter = any(c.isalpha() for c in token)
    return "[redacted]" if has_digit and has_letter else token


def _echoes(text: str, secret: str) -> bool:
    """Whether ``text`` quotes a run of ``secret``, as is or JSON-escaped, spacing aside."""
    flat_secret = " ".join(secret.split())
    if len(flat_secret) < _ECHO_WINDOW // 2:
        return False  # too short to tell an echo from a coincidence
    escaped = json.dumps(text)[1:-1]
    haystacks = {" ".join(text.split()), " ".join(escaped.replace("\\n", " ").split())}
    width = min(_ECHO_WINDOW, len(flat_secret))
    for start in range(0, max(1, len(flat_secret) - width + 1), _ECHO_STEP):
        window = flat_secret[start : start + width]
        if any(window in haystack for haystack in haystacks):
            return True
    return False
