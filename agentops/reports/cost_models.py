"""What the cost report holds: every figure, the prices it used and its recommendations."""

from __future__ import annotations

from datetime import datetime

from pydantic import computed_field

from agentops.reports.compute import ComputeEstimate, StorageEstimate
from agentops.reports.figures import Delta, PeriodOut, ReportModel, RuleCheck
from agentops.reports.price_book import PriceBook


class UsageLine(ReportModel):
    name: str
    items: int
    failed_items: int
    cache_hits: int
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    total_tokens: int
    failed_tokens: int
    cost: float | None  # None when any item in the line is unpriced: its cost is not known
    priced_cost: float
    unpriced_items: int
    unpriced_tokens: int
    recorded_cost: float
    saved_cost: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cache_hit_rate(self) -> float:
        return self.cache_hits / self.items if self.items else 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def token_efficiency(self) -> float:
        """The share of tokens that are answer rather than prompt."""
        return self.completion_tokens / self.total_tokens if self.total_tokens else 0.0


class CostTotals(ReportModel):
    tokens: UsageLine
    cache_hit_rate: float
    compute: ComputeEstimate | None
    storage: StorageEstimate | None
    cost: float | None  # tokens + compute + storage; None while any token is unpriced
    priced_cost: float


class Recommendation(ReportModel):
    rule: RuleCheck
    subject: str  # the agent, deployment or setting it is about
    action: str
    estimated_saving: float | None  # per period like this one, when the data allows a figure
    figures: dict[str, float]


class PriceBookRef(ReportModel):
    version: str
    currency: str
    tokens_source: str
    tokens_as_of: str
    compute_source: str
    compute_as_of: str
    storage_source: str
    storage_as_of: str

    @classmethod
    def of(cls, book: PriceBook) -> PriceBookRef:
        return cls(
            version=book.version,
            currency=book.currency,
            tokens_source=book.tokens.source,
            tokens_as_of=book.tokens.as_of.isoformat(),
            compute_source=book.flex_consumption.source,
            compute_as_of=book.flex_consumption.as_of.isoformat(),
            storage_source=book.blob_storage.source,
            storage_as_of=book.blob_storage.as_of.isoformat(),
        )


class CostReport(ReportModel):
    period: PeriodOut
    previous_period: PeriodOut
    generated_at: datetime
    prices: PriceBookRef
    by_deployment: list[UsageLine]
    by_agent: list[UsageLine]
    by_tenant: list[UsageLine]
    unpriced_deployments: list[str]
    totals: CostTotals
    previous_totals: CostTotals
    deltas: list[Delta]
    recommendations: list[Recommendation]
