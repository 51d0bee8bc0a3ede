"""What callers send, with every rule about it: the one place input is validated.

Models are strict (no `true` or `"5"` for an integer, no unknown fields). Limits that operators
set (queries per run, bytes per query) reach the validators through the validation context, so
the rule lives here and the number in settings. Errors whose type is in `TOO_LARGE_ERRORS`
are answered 413 rather than 400 at the HTTP edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from agentops.agents.definitions import AGENT_NAME_PATTERN

# Ids this API gives out are uuid4 hex; the rule admits those and nothing that could walk a path
# or a URL (`.`, `..`, `/`, `%`, NUL) before the ownership check runs.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
ResourceId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
TOO_LARGE_ERRORS = frozenset({"too_many_queries", "query_too_large"})
# Some character that is not white space. The class is the union of what Python and ECMAScript
# call white space, so the OpenAPI pattern and this check agree on every string.
NOT_BLANK = r"[^\s\x1c-\x1f\x85\ufeff]"
_NOT_BLANK = re.compile(NOT_BLANK)


@dataclass(frozen=True, slots=True)
class RequestLimits:
    max_queries: int = 10_000
    max_query_bytes: int = 32 * 1024


def _limits(info: ValidationInfo) -> RequestLimits:
    context = info.context
    return context if isinstance(context, RequestLimits) else RequestLimits()


def _query_text(value: str, info: ValidationInfo) -> str:
    if not _NOT_BLANK.search(value):
        raise PydanticCustomError("blank_query", "blank: a query needs some text")
    try:
        size = len(value.encode())
    except UnicodeEncodeError:
        # A lone surrogate from a JSON \ud800 escape: not text any model or store can take.
        raise PydanticCustomError("invalid_text", "not valid Unicode text") from None
    limit = _limits(info).max_query_bytes
    if size > limit:
        raise PydanticCustomError(
            "query_too_large",
            "{size} bytes, at most {limit}",
            {"size": size, "limit": limit},
        )
    return value


def _query_count(value: Any, info: ValidationInfo) -> Any:
    # Before the items are validated: a refused run costs no per-query work.
    limit = _limits(info).max_queries
    if isinstance(value, list) and len(value) > limit:
        raise PydanticCustomError(
            "too_many_queries",
            "{count} given, at most {limit} per run",
            {"count": len(value), "limit": limit},
        )
    return value


def _ascii_integer(value: Any) -> Any:
    # int() would take "٣", " 3" and "3_0"; a query parameter is plain ASCII digits or nothing.
    if isinstance(value, str) and not (value.isascii() and value.isdigit() and len(value) <= 9):
        raise PydanticCustomError("int_parsing", "an integer in ASCII digits")
    return value


Query = Annotated[
    str,
    AfterValidator(_query_text),
    WithJsonSchema({"type": "string", "minLength": 1, "pattern": NOT_BLANK}),
]

_STRICT = ConfigDict(strict=True, extra="forbid")


def _whole_number(value: Any) -> Any:
    # JSON Schema's integer is any number without a fraction: 5.0 is one, 5.5 and "5" are not.
    if type(value) is float and value.is_integer():
        return int(value)
    return value


WholeNumber = BeforeValidator(_whole_number)


RunMode = Literal["interactive", "batch"]


class RunOptions(BaseModel):
    """Per-run overrides of the app's defaults; unknown options are refused."""

    # The rule of _fallback_needs_batch_mode, in the schema too (JSON Schema 2020-12 if/then).
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "if": {"properties": {"fallback": {"const": True}}, "required": ["fallback"]},
            "then": {"properties": {"mode": {"const": "batch"}}, "required": ["mode"]},
        },
    )

    batch_size: Annotated[int, Field(ge=1, le=100), WholeNumber] | None = None
    max_in_flight: Annotated[int, Field(ge=1, le=256), WholeNumber] | None = None
    item_concurrency: Annotated[int, Field(ge=1, le=100), WholeNumber] | None = None
    max_attempts: Annotated[int, Field(ge=1, le=20), WholeNumber] | None = None
    # "batch": through the provider's Batch API, at its (lower) batch price, answered within
    # the provider's window rather than at once; only for agents whose definition allows it.
    # Omitted: "interactive".
    mode: RunMode | None = None
    # Batch mode only: items the Batch API failed or let expire, past their retry budget, are
    # answered through the interactive path (at the interactive price) instead of failing.
    fallback: bool | None = None

    @model_validator(mode="after")
    def _fallback_needs_batch_mode(self) -> Self:
        if self.fallback and self.mode != "batch":
            raise PydanticCustomError(
                "fallback_without_batch", 'fallback applies only to "mode": "batch"'
            )
        return self

    @property
    def run_mode(self) -> RunMode:
        return self.mode or "interactive"


class RunRequest(BaseModel):
    model_config = _STRICT

    queries: Annotated[list[Query], BeforeValidator(_query_count), Field(min_length=1)]
    options: RunOptions = Field(default_factory=RunOptions)


class AskRequest(BaseModel):
    """One query answered synchronously, optionally continuing a conversation."""

    model_config = _STRICT

    query: Query
    thread_id: ResourceId | None = None


class RunPath(BaseModel):
    """The run named in a route."""

    model_config = _STRICT

    run_id: ResourceId


class RunPage(BaseModel):
    """`GET /api/runs/{id}` query parameters (strings on the wire, hence not strict)."""

    model_config = ConfigDict(extra="ignore")

    limit: Annotated[int, Field(ge=1, le=1000), BeforeValidator(_ascii_integer)] = 100
    # A token this API gave out: an item index, in ASCII digits.
    continuation: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}$")] | None = None


RunStatusFilter = Literal["pending", "running", "completed", "failed", "canceled", "stopped"]
# Where the last page ended: the last run's creation time (UTC, in digits) and its id. Any token
# of this shape is a position in the listing, so none that matches is refused.
RUN_LIST_CONTINUATION = r"^[0-9]{8}T[0-9]{12}-[A-Za-z0-9_-]{1,64}$"


class RunListQuery(BaseModel):
    """`GET /api/runs` query parameters (strings on the wire, hence not strict)."""

    model_config = ConfigDict(extra="ignore")

    limit: Annotated[int, Field(ge=1, le=100), BeforeValidator(_ascii_integer)] = 20
    continuation: Annotated[str, StringConstraints(pattern=RUN_LIST_CONTINUATION)] | None = None
    agent: Annotated[str, StringConstraints(pattern=AGENT_NAME_PATTERN)] | None = None
    # "pending" and "running" both select the runs still under way: the store keeps a run
    # pending until its orchestration finishes it, and the listing reads no durable status.
    status: RunStatusFilter | None = None
