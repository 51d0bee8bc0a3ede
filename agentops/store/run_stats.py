"""One run's statistics folded from a projection of its items, the same fold for every adapter.

Neither adapter's query language does it all: Cosmos DB has no percentile and the
Cosmos-compatible test server no GROUP BY. Each adapter reads the few fields below in one
single-partition query and this fold turns them into `RunStats`, so both answer alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, NamedTuple

from agentops.store.records import ItemStatus, ModelSpend, RunStats, Usage


class StatsRow(NamedTuple):
    """The fields of one item that its run's statistics read."""

    status: str
    attempts: int
    duration_ms: int | None
    model: str | None
    prompt_tokens: int
    completion_tokens: int
    cost: float

    @classmethod
    def read(
        cls,
        status: Any,
        attempts: Any,
        duration_ms: Any,
        model: Any,
        prompt_tokens: Any,
        completion_tokens: Any,
        cost: Any,
    ) -> StatsRow:
        """A row from the values as an adapter's query returns them: an absent count is 0, an
        absent duration stays None (items stored before durations were kept)."""
        return cls(
            str(status),
            int(attempts or 0),
            None if duration_ms is None else int(duration_ms),
            model,
            int(prompt_tokens or 0),
            int(completion_tokens or 0),
            float(cost or 0.0),
        )


def nearest_rank(ordered: list[int], q: float) -> int | None:
    """The q-quantile by nearest rank: a value some item really took, never an interpolation."""
    if not ordered:
        return None
    return ordered[max(math.ceil(q * len(ordered)), 1) - 1]


def fold_run_stats(rows: Iterable[StatsRow]) -> RunStats:
    durations: list[int] = []
    retries = 0
    spend: dict[str | None, tuple[int, int, int, float]] = {}
    for row in rows:
        # A pending item's recorded attempts are retries already spent, too.
        retries += max(row.attempts - 1, 0)
        if row.status == ItemStatus.PENDING:
            continue
        if row.duration_ms is not None:
            durations.append(row.duration_ms)
        if row.model is None and not (row.prompt_tokens or row.completion_tokens or row.cost):
            continue  # failed before any model answered: nothing spent, on no model
        items, prompt, completion, cost = spend.get(row.model, (0, 0, 0, 0.0))
        spend[row.model] = (
            items + 1,
            prompt + row.prompt_tokens,
            completion + row.completion_tokens,
            cost + row.cost,
        )
    durations.sort()
    by_model = sorted(
        (
            ModelSpend(model, items, Usage(prompt, completion), cost)
            for model, (items, prompt, completion, cost) in spend.items()
        ),
        key=lambda s: (-s.cost, s.model is None, s.model or ""),
    )
    return RunStats(
        timed=len(durations),
        latency_p50_ms=nearest_rank(durations, 0.5),
        latency_p95_ms=nearest_rank(durations, 0.95),
        retries=retries,
        by_model=tuple(by_model),
    )
