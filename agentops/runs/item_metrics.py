"""The batch metrics: items finished (failed ones by reason), retries, deferrals, runs finished.

Recorded by the activities' service where the store changes, never by the orchestrator (which
replays). An item counts as finished only when the store moved it from pending, so a Durable
re-execution does not count it twice and the sums match the store's counts.

A failed item's reason is its error kind (``permanent`` or ``transient``, the fixed set the
store keeps); the free-text message never becomes a value. A retry is an item sent back to the
orchestrator for a later attempt (the gateway's short inline retries are not counted here); a
deferral is an item put back without spending an attempt. Both carry a class taken from the
error's type and status, for the same reason.
"""

from __future__ import annotations

from agentops.instruments import (
    ERRORS,
    ITEM_DEFERRALS,
    ITEM_RETRIES,
    ITEMS_FINISHED,
    RUNS_FINISHED,
)
from agentops.metering import instrument
from agentops.model.types import CircuitOpenError, TransientModelError


def item_completed(agent: str, deployment: str) -> None:
    instrument(ITEMS_FINISHED).record(
        1, {"agent": agent, "deployment": deployment, "outcome": "completed"}
    )


def item_failed(agent: str, deployment: str, kind: str) -> None:
    instrument(ITEMS_FINISHED).record(
        1, {"agent": agent, "deployment": deployment, "outcome": "failed", "reason": kind}
    )
    instrument(ERRORS).record(1, {"agent": agent, "error.type": kind})


def retry_reason(error: TransientModelError) -> str:
    """rate_limited (429), server_error (another status), timeout or connection."""
    if error.status == 429:
        return "rate_limited"
    if error.status is not None:
        return "server_error"
    return "timeout" if error.reason.startswith("timeout") else "connection"


def item_retried(agent: str, error: TransientModelError) -> None:
    instrument(ITEM_RETRIES).record(1, {"agent": agent, "reason": retry_reason(error)})


def deferral_reason(error: TransientModelError) -> str:
    """breaker_open, or a retry reason for another refusal that made no call."""
    return "breaker_open" if isinstance(error, CircuitOpenError) else retry_reason(error)


def item_deferred(agent: str, reason: str) -> None:
    """An item put back without spending an attempt: `deferral_reason`, or budget."""
    instrument(ITEM_DEFERRALS).record(1, {"agent": agent, "reason": reason})


def run_finished(agent: str, status: str) -> None:
    instrument(RUNS_FINISHED).record(1, {"agent": agent, "status": status})
