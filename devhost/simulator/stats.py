"""Counters behind ``GET /sim/stats`` and ``GET /sim/served``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DeploymentStats:
    requests: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def served_dict(self) -> dict[str, Any]:
        """``GET /sim/served``: per last user message, the answers given and their tokens."""
        return {
            "served": [
                {"query": query, "answers": n, "prompt_tokens": p, "completion_tokens": c}
                for query, (n, p, c) in sorted(self.served.items())
            ]
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_status": dict(self.by_status),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


@dataclass
class BatchStats:
    """Calls to the Files and Batches endpoints (what a provider would bill or throttle), the
    batches by the final status they reached, and their lines by outcome."""

    calls: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    lines: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        calls = {name: self.calls[name] for name in BATCH_CALLS}
        return {**calls, "by_status": dict(self.by_status), "lines": dict(self.lines)}


# The keys of ``/sim/stats`` ``batches``: one per endpoint, ``refused`` for any 4xx answer.
BATCH_CALLS = (
    "uploads",
    "file_retrieves",
    "file_lists",
    "file_deletes",
    "content_downloads",
    "creates",
    "retrieves",
    "lists",
    "cancels",
    "refused",
)


@dataclass
class Stats:
    """Chat completion requests; ``batch`` counts the Files and Batches endpoints apart. Tokens
    and ``served`` include batch lines answered (the endpoint billed them too).

    ``by_status`` counts outcomes: the HTTP status answered, ``dropped`` for a connection closed
    without a response, ``client_gone`` for a client that left during a slow answer.
    """

    requests: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    dropped: int = 0
    client_gone: int = 0
    # Streams the client closed before their end, and the completion tokens they had sent.
    streams_cut: int = 0
    cut_tokens_sent: int = 0
    in_flight: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    deployments: dict[str, DeploymentStats] = field(default_factory=dict)
    # What was answered, by the request's last user message (an item's query): answers and
    # tokens, so a test can hold a run's reported usage against what the endpoint billed.
    served: dict[str, list[int]] = field(default_factory=dict)
    batch: BatchStats = field(default_factory=BatchStats)

    def deployment(self, name: str) -> DeploymentStats:
        stats = self.deployments.get(name)
        if stats is None:
            stats = self.deployments[name] = DeploymentStats()
        return stats

    def record(self, deployment: str | None, outcome: str) -> None:
        self.by_status[outcome] += 1
        if deployment is not None:
            stats = self.deployment(deployment)
            stats.requests += 1
            stats.by_status[outcome] += 1

    def record_tokens(
        self, deployment: str, prompt: int, completion: int, query: str | None = None
    ) -> None:
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        if query is not None:
            served = self.served.setdefault(query, [0, 0, 0])
            served[0] += 1
            served[1] += prompt
            served[2] += completion
        stats = self.deployment(deployment)
        stats.prompt_tokens += prompt
        stats.completion_tokens += completion

    def served_dict(self) -> dict[str, Any]:
        """``GET /sim/served``: per last user message, the answers given and their tokens."""
        return {
            "served": [
                {"query": query, "answers": n, "prompt_tokens": p, "completion_tokens": c}
                for query, (n, p, c) in sorted(self.served.items())
            ]
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "by_status": dict(self.by_status),
            "faults": dict(self.faults),
            "dropped": self.dropped,
            "client_gone": self.client_gone,
            "streams_cut": self.streams_cut,
            "cut_tokens_sent": self.cut_tokens_sent,
            "tokens": {
                "prompt": self.prompt_tokens,
                "completion": self.completion_tokens,
                "total": self.prompt_tokens + self.completion_tokens,
            },
            "deployments": {name: s.as_dict() for name, s in sorted(self.deployments.items())},
            "batches": self.batch.as_dict(),
        }
