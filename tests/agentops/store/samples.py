"""Records the store contract tests share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agentops.store import (
    AuditEntry,
    ItemOutcome,
    Message,
    ReportRecord,
    Run,
    ThreadOwner,
    Usage,
)

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ALICE = ThreadOwner("acme", "alice@acme", "calc")


def make_run(run_id: str = "run-1", tenant: str = "acme", at: datetime = T0, **kw) -> Run:
    return Run(
        run_id=run_id,
        tenant_id=tenant,
        principal="alice@acme",
        agent="calc",
        total=kw.pop("total", 3),
        created_at=at,
        options=kw.pop("options", {"temperature": 0.2}),
        **kw,
    )


def answer(text: str = "42", prompt: int = 10, completion: int = 5, cost: float = 0.01):
    return ItemOutcome.completed(
        text, usage=Usage(prompt, completion), cost=cost, model="gpt-4o-mini"
    )


def msgs(*texts: str) -> list[Message]:
    return [Message("user" if i % 2 == 0 else "assistant", t, T0) for i, t in enumerate(texts)]


def audit(seq: int, tenant: str = "acme", at: datetime | None = None, **kw) -> AuditEntry:
    return AuditEntry(
        id=kw.pop("id", f"e-{tenant}-{seq}"),
        tenant_id=tenant,
        seq=seq,
        at=at or T0 + timedelta(seconds=seq),
        principal="alice@acme",
        action="run.create",
        resource=f"runs/run-{seq}",
        outcome="allowed",
        details={"queries": seq},
        prev_hash=None if seq == 0 else f"h{seq - 1}",
        hash=f"h{seq}",
    )


def report(day: int, kind: str = "cost", **headline) -> ReportRecord:
    start = T0 + timedelta(days=day)
    return ReportRecord(
        id=f"{kind}-{start:%Y%m%d}",
        kind=kind,
        period_start=start,
        period_end=start + timedelta(days=1),
        created_at=start + timedelta(days=1, minutes=15),
        headline=headline or {"items": day},
        blobs={"json": f"{kind}-{start:%Y%m%d}.json", "html": f"{kind}-{start:%Y%m%d}.html"},
    )
