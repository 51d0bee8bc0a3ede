"""The HTTP edge's shared steps: reading a body, and turning errors into problems.

Reading is defensive before the models see anything: the declared length is checked before the
body is touched, JSON with duplicate keys, deep nesting or numbers past Python's digit limit is
refused as bad JSON, and only then do the request models apply their rules.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import BaseModel, ValidationError

from agentops.agents.registry import UnknownAgentError
from agentops.auth import AuthenticationError, ForbiddenError
from agentops.bootstrap import Services
from agentops.conversations import ThreadLimitError, UnknownThreadError
from agentops.encryption import EncryptionUnavailableError
from agentops.model.types import (
    BudgetExceededError,
    ModelError,
    PermanentModelError,
    TransientModelError,
)
from agentops.request_limits import RequestRateExceeded
from agentops.runs.errors import (
    BatchModeRefusedError,
    InvalidContinuationError,
    RunConflictError,
    UnknownRunError,
)
from agentops.runs.requests import TOO_LARGE_ERRORS, RequestLimits
from triggers.http import HttpResponse, Request
from triggers.problems import problem
from triggers.responses import FieldError

logger = logging.getLogger(__name__)


class Refusal(Exception):
    """Bad input found at the edge: carries the problem response to send."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def request_limits(services: Services) -> RequestLimits:
    settings = services.settings
    return RequestLimits(max_queries=settings.max_queries, max_query_bytes=settings.max_query_bytes)


async def read_body[M: BaseModel](req: Request, model: type[M], services: Services) -> M:
    """The body as `model`, with the operators' limits; refusals are problem responses."""
    data = await _json_body(req, services.settings.max_request_bytes)
    return model.model_validate(data, context=request_limits(services))


async def _json_body(req: Request, limit: int) -> Any:
    declared = req.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise Refusal(problem(400, "Invalid request", "Content-Length is not a byte count"))
        if int(declared) > limit:
            raise Refusal(_too_large(limit))
    # Read as it arrives and stop past the limit: a body without a length is not held whole.
    raw = bytearray()
    async for chunk in req.stream():
        raw += chunk
        if len(raw) > limit:
            raise Refusal(_too_large(limit))
    try:
        return json.loads(bytes(raw), object_pairs_hook=_no_duplicate_keys)
    except RecursionError:
        reason = "nested too deeply"
    except UnicodeDecodeError:
        reason = "not UTF-8"
    except ValueError as error:  # JSONDecodeError, duplicate keys, integers past 4,300 digits
        reason = str(error).splitlines()[0][:200]
    raise Refusal(
        problem(400, "Invalid JSON", f"the body is not JSON: {reason}", kind="invalid-json")
    )


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise ValueError(f"duplicate key {key!r}")
        document[key] = value
    return document


def _too_large(limit: int) -> HttpResponse:
    return problem(413, "Body too large", f"at most {limit} bytes", kind="body-too-large")


# What a caller can cause or be told about; anything else is a fault of ours (500, logged).
CALLER_ERRORS = (
    Refusal,
    ValidationError,
    AuthenticationError,
    ForbiddenError,
    RequestRateExceeded,
    UnknownAgentError,
    UnknownRunError,
    UnknownThreadError,
    ThreadLimitError,
    EncryptionUnavailableError,
    InvalidContinuationError,
    RunConflictError,
    BatchModeRefusedError,
    ModelError,
)


def problem_for(error: Exception) -> HttpResponse:
    """The one mapping from domain errors to problem+json."""
    match error:
        case Refusal():
            return error.response
        case ValidationError():
            return validation_problem(error)
        case AuthenticationError():
            return problem(401, "Unauthorized", str(error), headers={"WWW-Authenticate": "Bearer"})
        case ForbiddenError():
            return problem(403, "Forbidden", str(error))
        case RequestRateExceeded():
            return problem(
                429,
                "Too many requests",
                str(error),
                kind="too-many-requests",
                headers={"Retry-After": str(max(1, round(error.retry_after_s)))},
                scope=error.scope,
                limit=error.limit,
            )
        case UnknownAgentError():
            return problem(404, "Unknown agent", str(error), kind="unknown-agent")
        case UnknownRunError():
            return problem(404, "Unknown run", str(error), kind="unknown-run")
        case UnknownThreadError():
            return problem(404, "Unknown conversation", str(error), kind="unknown-thread")
        case ThreadLimitError():
            return problem(
                429,
                "Too many conversations",
                str(error),
                kind="thread-limit",
                headers={"Retry-After": str(max(1, round(error.retry_after_s)))},
                scope="user",
            )
        case EncryptionUnavailableError():
            # The agent is sensitive and no data key is configured: an operator must act.
            return problem(
                503,
                "Encryption unavailable",
                "this agent stores only encrypted text, and no data encryption key is configured",
                kind="encryption-unavailable",
            )
        case InvalidContinuationError():
            return problem(400, "Invalid request", str(error), kind="invalid-request")
        case BatchModeRefusedError():
            # 409, not 422: the request is valid and the agent's configuration refuses it, and a
            # schema-valid request may be refused only for the state it meets (the fuzz test).
            return problem(409, "Batch mode not allowed", str(error), kind="batch-not-allowed")
        case RunConflictError():
            return problem(409, "Run already finished", str(error), kind="run-finished")
        case BudgetExceededError():
            return problem(
                429,
                "Budget exceeded",
                error.reason,
                kind="budget-exceeded",
                headers={"Retry-After": error.resets_at.strftime("%a, %d %b %Y %H:%M:%S GMT")},
                scope=error.scope,
                resetsAt=error.resets_at.isoformat(),
            )
        case PermanentModelError():
            return problem(422, "Model refused", error.reason, kind="model-refused")
        case TransientModelError() if error.retry_after_s:
            headers = {"Retry-After": str(max(1, round(error.retry_after_s)))}
            return problem(503, "Model unavailable", error.reason, headers=headers)
        case ModelError():
            return problem(503, "Model unavailable", error.reason)
    raise TypeError(f"no problem mapping for {type(error).__name__}") from error


def validation_problem(error: ValidationError) -> HttpResponse:
    details = error.errors(include_url=False, include_input=False, include_context=False)
    errors = [FieldError(field=_field_name(e["loc"]), message=e["msg"]) for e in details]
    detail = "; ".join(f"{e.field or 'body'}: {e.message}" for e in errors)
    too_large = next((e["type"] for e in details if e["type"] in TOO_LARGE_ERRORS), None)
    if too_large is not None:
        title = "Too many queries" if too_large == "too_many_queries" else "Query too large"
        return problem(413, title, detail, kind=too_large.replace("_", "-"), errors=errors)
    return problem(400, "Invalid request", detail, kind="invalid-request", errors=errors)


def _field_name(location: tuple[Any, ...]) -> str:
    name = ""
    for part in location:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name
