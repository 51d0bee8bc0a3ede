"""What callers of the report routes send: the query and path parameters, strictly checked.

Query parameters arrive as strings. Unknown parameters are refused, except `code`, where Azure
Functions callers may pass the function key. A continuation is a token this API gave out; one
is the id of the last report of the page before: any id-shaped value is one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from agentops.reports.periods import REPORT_ID_PATTERN, ReportKind
from agentops.runs.requests import _ascii_integer

# The function key's query parameter: the host reads it, the route ignores it.
_HOST_PARAMETERS = frozenset({"code"})
MAX_REPORT_PAGE = 100


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _without_host_parameters(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in _HOST_PARAMETERS}
        return data


class ReportListQuery(_Query):
    """`GET /api/reports`: one kind or every kind, newest first, a page at a time."""

    kind: ReportKind | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_REPORT_PAGE), BeforeValidator(_ascii_integer)] = 20
    continuation: Annotated[str, StringConstraints(pattern=REPORT_ID_PATTERN)] | None = None


class ReportQuery(_Query):
    """`GET /api/reports/{report_id}`: the report as JSON (default) or as an HTML page."""

    format: Literal["json", "html"] = "json"


class ReportPath(BaseModel):
    """The report named in a route: a kind and a UTC day, `cost-20261201`."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    report_id: Annotated[str, StringConstraints(pattern=REPORT_ID_PATTERN)]
