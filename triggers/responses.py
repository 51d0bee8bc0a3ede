"""What the HTTP API answers: one pydantic model per response, keys in camelCase throughout.

The routes build their JSON from these models and the OpenAPI document takes its schemas from
them, so the description and the answers cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from agentops.model.types import Usage as TokenUsage
from agentops.runs.run_service import RunSnapshot
from agentops.store.records import Item, RunStats

ItemStatus = Literal["pending", "completed", "failed"]
RunStatusName = Literal["pending", "running", "completed", "failed", "canceled", "stopped"]


class Response(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    def to_json(self) -> str:
        return self.model_dump_json(
            by_alias=True, exclude_none=_EXCLUDE_NONE.get(type(self), False)
        )


class Usage(Response):
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    total_tokens: int = Field(ge=0)

    @classmethod
    def of(cls, usage: TokenUsage) -> Usage:
        return cls(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        )


class ItemError(Response):
    kind: str
    message: str


class ItemResult(Response):
    index: int = Field(ge=0)
    status: ItemStatus
    answer: str | None
    error: ItemError | None
    attempts: int = Field(ge=0)
    usage: Usage
    cost: float
    cached: bool

    @classmethod
    def of(cls, item: Item) -> ItemResult:
        return cls(
            index=item.index,
            status=str(item.status),  # type: ignore[arg-type]
            answer=item.answer,
            error=ItemError(kind=item.error.kind, message=item.error.message)
            if item.error
            else None,
            attempts=item.attempts,
            usage=Usage.of(item.usage),
            cost=item.cost,
            cached=item.cached,
        )


class Counts(Response):
    pending: int = Field(ge=0)
    completed: int = Field(ge=0)
    failed: int = Field(ge=0)


class CacheSummary(Response):
    hits: int = Field(ge=0)
    saved_cost: float


class ModelSpendView(Response):
    model: str | None = Field(
        description="the model that answered (a failed item that spent tokens: its "
        "deployment); null for items stored before the model was kept. Items that spent "
        "nothing on any model are in no row"
    )
    items: int = Field(ge=0, description="finished items")
    usage: Usage
    cost: float


class ItemStats(Response):
    """How a run's items went, over all of them (not only the page): latency, retries and
    spend by model. Deferrals (an item put back untried, e.g. while a breaker is open) are not
    kept on the items: the run's `progress` counts them."""

    timed_items: int = Field(
        ge=0,
        description="finished items with a recorded model time: what the percentiles are "
        "over (items finished before times were kept have none)",
    )
    latency_p50_ms: int | None = Field(
        description="median model time of an item, nearest rank; null when no item is timed"
    )
    latency_p95_ms: int | None = Field(description="95th percentile, nearest rank")
    retries: int = Field(ge=0, description="model attempts beyond each item's first, summed")
    by_model: list[ModelSpendView] = Field(description="most costly first")

    @classmethod
    def of(cls, stats: RunStats) -> ItemStats:
        return cls(
            timed_items=stats.timed,
            latency_p50_ms=stats.latency_p50_ms,
            latency_p95_ms=stats.latency_p95_ms,
            retries=stats.retries,
            by_model=[
                ModelSpendView(
                    model=spend.model,
                    items=spend.items,
                    usage=Usage.of(spend.usage),
                    cost=round(spend.cost, 6),
                )
                for spend in stats.by_model
            ],
        )


class RunView(Response):
    """A run's status, counts, usage, cost and one page of item results."""

    id: str
    agent: str
    status: RunStatusName
    runtime_status: str | None
    progress: Any = Field(
        description="the orchestration's custom status: counts as it runs, and `deferrals` "
        "(items put back without spending an attempt)"
    )
    created_at: str
    finished_at: str | None
    total: int = Field(ge=0)
    counts: Counts
    usage: Usage
    cost: float
    mode: Literal["interactive", "batch"] = Field(
        description="batch: answered through the provider's Batch API, at its batch price"
    )
    interactive_cost: float | None = Field(
        description="a batch-mode run: what the same tokens would have cost interactively"
    )
    cache: CacheSummary
    stats: ItemStats | None = Field(
        description="latency, retries and spend by model over all the run's items"
    )
    items: list[ItemResult]
    continuation: str | None = Field(description="pass back to read the next page")
    next: str | None = Field(description="the next page's URL")
    trace_id: str | None = Field(
        description=(
            "the W3C trace id (32 hex digits) of the run's one trace: the request that started "
            "it, its activities, items and model calls; null for a run started outside a trace"
        ),
        pattern="^[0-9a-f]{32}$",
    )

    @classmethod
    def of(cls, snapshot: RunSnapshot, next_uri: str | None) -> RunView:
        run, totals = snapshot.run, snapshot.totals
        return cls(
            id=run.run_id,
            agent=run.agent,
            status=str(snapshot.status),  # type: ignore[arg-type]
            runtime_status=snapshot.runtime_status,
            progress=snapshot.progress,
            created_at=run.created_at.isoformat(),
            finished_at=run.finished_at.isoformat() if run.finished_at else None,
            total=run.total,
            counts=Counts.model_validate(totals.counts.to_doc()),
            usage=Usage.of(totals.usage),
            cost=round(totals.cost, 6),
            mode=snapshot.mode,  # type: ignore[arg-type]
            interactive_cost=None
            if snapshot.interactive_cost is None
            else round(snapshot.interactive_cost, 6),
            cache=CacheSummary(hits=totals.cached, saved_cost=round(totals.saved_cost, 6)),
            stats=None if snapshot.stats is None else ItemStats.of(snapshot.stats),
            items=[ItemResult.of(item) for item in snapshot.items],
            continuation=None if snapshot.next_after is None else str(snapshot.next_after),
            next=next_uri,
            trace_id=run.trace_id,
        )


class RunSummary(Response):
    """One run in a listing: its counts, usage, cost and cache savings, without items."""

    id: str
    agent: str
    tenant: str
    status: RunStatusName
    created_at: str
    finished_at: str | None
    total: int = Field(ge=0)
    counts: Counts
    usage: Usage
    cost: float
    cache: CacheSummary
    uri: str

    @classmethod
    def of(cls, snapshot: RunSnapshot, base_url: str) -> RunSummary:
        run, totals = snapshot.run, snapshot.totals
        return cls(
            id=run.run_id,
            agent=run.agent,
            tenant=run.tenant_id,
            status=str(snapshot.status),  # type: ignore[arg-type]
            created_at=run.created_at.isoformat(),
            finished_at=run.finished_at.isoformat() if run.finished_at else None,
            total=run.total,
            counts=Counts.model_validate(totals.counts.to_doc()),
            usage=Usage.of(totals.usage),
            cost=round(totals.cost, 6),
            cache=CacheSummary(hits=totals.cached, saved_cost=round(totals.saved_cost, 6)),
            uri=f"{base_url}/api/runs/{run.run_id}",
        )


class RunList(Response):
    """A page of runs, newest first."""

    runs: list[RunSummary]
    continuation: str | None = Field(description="pass back to read the next page")
    next: str | None = Field(description="the next page's URL")


class RunAccepted(Response):
    """The Durable check-status shape. Only admins get the Durable management URLs, which carry
    the durable system key; everyone else gets this API's own URLs (statusQueryGetUri is
    runStatusUri)."""

    id: str
    run_id: str
    run_status_uri: str
    cancel_post_uri: str
    status_query_get_uri: str
    send_event_post_uri: str | None = None
    terminate_post_uri: str | None = None
    rewind_post_uri: str | None = None
    purge_history_delete_uri: str | None = None
    restart_post_uri: str | None = None
    suspend_post_uri: str | None = None
    resume_post_uri: str | None = None


class Canceled(Response):
    run_id: str
    status: Literal["canceled"]


class AgentSummary(Response):
    name: str
    description: str
    deployment: str
    tools: list[str]
    sensitive: bool
    version: str


class AgentList(Response):
    agents: list[AgentSummary]


class Answer(Response):
    agent: str
    thread_id: str
    answer: str
    model: str
    cached: bool
    usage: Usage
    cost: float
    messages: int = Field(ge=0, description="messages the conversation now keeps")


class FieldError(Response):
    field: str
    message: str


class Problem(Response):
    """RFC 9457 problem details; some kinds add members (scope, resetsAt, limit)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    errors: list[FieldError] | None = None


_EXCLUDE_NONE: dict[type[Response], bool] = {RunAccepted: True, Problem: True}

RESPONSE_MODELS: tuple[type[Response], ...] = (
    RunAccepted,
    RunView,
    RunList,
    Canceled,
    AgentList,
    Answer,
    Problem,
)
