"""What the store keeps: runs, items (with their token usage), thread messages and audit entries,
and their documents.

Records are frozen dataclasses with UTC datetimes. Each one converts to and from a JSON document
(`to_doc`/`from_doc`); both adapters and the backups use the same document shape, so a backup
taken from one adapter restores into the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from agentops.store.errors import ConcurrencyError


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a model call (or a sum of calls) used."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    STOPPED = "stopped"  # a budget was reached: dispatching stopped


NO_USAGE = Usage()


class ItemStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


TERMINAL_ITEM_STATUSES = frozenset({ItemStatus.COMPLETED, ItemStatus.FAILED})
# The item fields that hold a caller's text, sealed for sensitive agents.
ITEM_TEXT_FIELDS = ("query", "answer")


def utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware (UTC)")
    return value.astimezone(UTC)


def dt_to_doc(value: datetime | None) -> str | None:
    # Fixed-width ISO 8601 in UTC: strings sort in time order on both adapters. isoformat
    # rather than strftime: the same text, at a third of the cost (every stored write has one).
    if value is None:
        return None
    return utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def dt_from_doc(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def usage_to_doc(usage: Usage) -> dict[str, int]:
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}


def usage_from_doc(doc: dict[str, Any] | None) -> Usage:
    doc = doc or {}
    return Usage(int(doc.get("prompt_tokens", 0)), int(doc.get("completion_tokens", 0)))


@dataclass(frozen=True, slots=True)
class ItemCounts:
    pending: int = 0
    completed: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.completed + self.failed

    def to_doc(self) -> dict[str, int]:
        return {"pending": self.pending, "completed": self.completed, "failed": self.failed}

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> ItemCounts:
        doc = doc or {}
        return cls(
            int(doc.get("pending", 0)), int(doc.get("completed", 0)), int(doc.get("failed", 0))
        )


@dataclass(frozen=True, slots=True)
class Run:
    run_id: str
    tenant_id: str
    principal: str
    agent: str
    total: int
    created_at: datetime
    status: RunStatus = RunStatus.PENDING
    options: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    counts: ItemCounts = ItemCounts()
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    instance_id: str | None = None  # the durable orchestration that executes the run
    # Its items' queries and answers are sealed (the agent is sensitive); the rest stays plain.
    encrypted: bool = False
    # The W3C trace id (32 hex digits) of the request that started the run: every span of the
    # run is in that trace. None for runs stored before it was kept, or started outside a trace.
    trace_id: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.run_id,
            "run_id": self.run_id,
            "tenant_id": self.tenant_id,
            "principal": self.principal,
            "agent": self.agent,
            "status": str(self.status),
            "total": self.total,
            "options": self.options,
            "created_at": dt_to_doc(self.created_at),
            "updated_at": dt_to_doc(self.updated_at or self.created_at),
            "finished_at": dt_to_doc(self.finished_at),
            "counts": self.counts.to_doc(),
            "usage": usage_to_doc(self.usage),
            "cost": self.cost,
            "instance_id": self.instance_id,
            "encrypted": self.encrypted,
            "trace_id": self.trace_id,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Run:
        created_at = dt_from_doc(doc["created_at"])
        assert created_at is not None
        return cls(
            run_id=doc["run_id"],
            tenant_id=doc["tenant_id"],
            principal=doc["principal"],
            agent=doc["agent"],
            status=RunStatus(doc["status"]),
            total=int(doc["total"]),
            options=dict(doc.get("options") or {}),
            created_at=created_at,
            updated_at=dt_from_doc(doc.get("updated_at")),
            finished_at=dt_from_doc(doc.get("finished_at")),
            counts=ItemCounts.from_doc(doc.get("counts")),
            usage=usage_from_doc(doc.get("usage")),
            cost=float(doc.get("cost", 0.0)),
            instance_id=doc.get("instance_id"),
            encrypted=bool(doc.get("encrypted", False)),
            trace_id=doc.get("trace_id"),
        )


# What update_run may change; anything else is a programming error.
RUN_MUTABLE_FIELDS = frozenset(
    {"status", "counts", "usage", "cost", "finished_at", "instance_id", "options", "encrypted"}
)


def apply_run_changes(run: Run, changes: dict[str, Any], now: datetime) -> Run:
    unknown = set(changes) - RUN_MUTABLE_FIELDS
    if unknown:
        raise ValueError(f"update_run cannot change: {', '.join(sorted(unknown))}")
    values = dict(changes)
    if "status" in values:
        values["status"] = RunStatus(values["status"])
    if "counts" in values and not isinstance(values["counts"], ItemCounts):
        raise TypeError("counts must be an ItemCounts")
    if "usage" in values and not isinstance(values["usage"], Usage):
        raise TypeError("usage must be a Usage")
    if values.get("finished_at") is not None:
        values["finished_at"] = utc(values["finished_at"])
    if "cost" in values:
        values["cost"] = float(values["cost"])
    if "encrypted" in values and not isinstance(values["encrypted"], bool):
        raise TypeError("encrypted must be a bool")
    fields = {name: getattr(run, name) for name in Run.__dataclass_fields__}
    fields.update(values, updated_at=now)
    return Run(**fields)


@dataclass(frozen=True, slots=True)
class ItemError:
    kind: str  # "permanent" | "transient" | a finer classification from the model path
    message: str

    def to_doc(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> ItemError | None:
        return None if doc is None else cls(str(doc["kind"]), str(doc["message"]))


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """How an item ended: an answer (completed) or an error (failed)."""

    status: ItemStatus
    answer: str | None = None
    error: ItemError | None = None
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    cached: bool = False
    model: str | None = None
    saved_cost: float = 0.0  # a cache hit: what the call it replaced cost
    duration_ms: int | None = None  # time spent in the model gateway for the final call(s)

    def __post_init__(self) -> None:
        if self.status not in TERMINAL_ITEM_STATUSES:
            raise ValueError("an outcome's status must be completed or failed")
        if self.status is ItemStatus.FAILED and self.error is None:
            raise ValueError("a failed outcome needs an error")

    @classmethod
    def completed(
        cls,
        answer: str,
        *,
        usage: Usage = NO_USAGE,
        cost: float = 0.0,
        cached: bool = False,
        model: str | None = None,
        saved_cost: float = 0.0,
        duration_ms: int | None = None,
    ) -> ItemOutcome:
        return cls(
            ItemStatus.COMPLETED, answer, None, usage, cost, cached, model, saved_cost, duration_ms
        )

    @classmethod
    def failed(
        cls,
        error: ItemError,
        *,
        usage: Usage = NO_USAGE,
        cost: float = 0.0,
        model: str | None = None,
        duration_ms: int | None = None,
    ) -> ItemOutcome:
        return cls(ItemStatus.FAILED, None, error, usage, cost, False, model, 0.0, duration_ms)


@dataclass(frozen=True, slots=True)
class Item:
    run_id: str
    index: int
    query: str
    status: ItemStatus = ItemStatus.PENDING
    answer: str | None = None
    error: ItemError | None = None
    attempts: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    cached: bool = False
    saved_cost: float = 0.0
    model: str | None = None
    completed_at: datetime | None = None
    duration_ms: int | None = None  # absent on items stored before it was measured

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": str(self.index),
            "run_id": self.run_id,
            "index": self.index,
            "query": self.query,
            "status": str(self.status),
            "answer": self.answer,
            "error": None if self.error is None else self.error.to_doc(),
            "attempts": self.attempts,
            "usage": usage_to_doc(self.usage),
            "cost": self.cost,
            "cached": self.cached,
            "saved_cost": self.saved_cost,
            "model": self.model,
            "completed_at": dt_to_doc(self.completed_at),
            "duration_ms": self.duration_ms,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Item:
        return cls(
            run_id=doc["run_id"],
            index=int(doc["index"]),
            query=doc["query"],
            status=ItemStatus(doc["status"]),
            answer=doc.get("answer"),
            error=ItemError.from_doc(doc.get("error")),
            attempts=int(doc.get("attempts", 0)),
            usage=usage_from_doc(doc.get("usage")),
            cost=float(doc.get("cost", 0.0)),
            cached=bool(doc.get("cached", False)),
            saved_cost=float(doc.get("saved_cost", 0.0)),
            model=doc.get("model"),
            completed_at=dt_from_doc(doc.get("completed_at")),
            duration_ms=_optional_int(doc.get("duration_ms")),
        )


def completed_item_doc(doc: dict[str, Any], outcome: ItemOutcome, now: datetime) -> dict[str, Any]:
    """The document of the stored item `doc` once it has `outcome`: the attempt that ended it
    counts. Built from the document, without the records (`Item.from_doc(doc)`, then `to_doc`):
    this runs once per item of every batch, and gives the same document."""
    index = int(doc["index"])
    return {
        "id": str(index),
        "run_id": doc["run_id"],
        "index": index,
        "query": doc["query"],
        "status": str(outcome.status),
        "answer": outcome.answer,
        "error": None if outcome.error is None else outcome.error.to_doc(),
        "attempts": int(doc.get("attempts", 0)) + 1,
        "usage": usage_to_doc(outcome.usage),
        "cost": outcome.cost,
        "cached": outcome.cached,
        "saved_cost": outcome.saved_cost,
        "model": outcome.model,
        "completed_at": dt_to_doc(now),
        "duration_ms": outcome.duration_ms,
    }


@dataclass(frozen=True, slots=True)
class ItemTotals:
    """Single-partition aggregate over one run's items."""

    counts: ItemCounts
    usage: Usage
    cost: float
    cached: int = 0  # items answered from the response cache
    saved_cost: float = 0.0  # what those answers would have cost


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class ModelSpend:
    """What one run's finished items spent on one model (None: not recorded, on items stored
    before the model was kept; items that spent nothing on any model are in no row)."""

    model: str | None
    items: int
    usage: Usage
    cost: float


@dataclass(frozen=True, slots=True)
class RunStats:
    """How one run's items went: latency percentiles over the finished items that carry a
    duration, retries (attempts beyond each item's first) and spend by model."""

    timed: int  # finished items with a duration: what the percentiles are over
    latency_p50_ms: int | None
    latency_p95_ms: int | None
    retries: int
    by_model: tuple[ModelSpend, ...]


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # "user" | "assistant" | "system" | "tool"
    text: str
    at: datetime

    def to_doc(self) -> dict[str, Any]:
        return {"role": self.role, "text": self.text, "at": dt_to_doc(self.at)}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Message:
        at = dt_from_doc(doc["at"])
        assert at is not None
        return cls(doc["role"], doc["text"], at)


@dataclass(frozen=True, slots=True)
class ThreadOwner:
    """Who may read and continue a conversation: the user and agent that started it."""

    tenant_id: str
    principal: str
    agent: str


@dataclass(frozen=True, slots=True)
class Thread:
    thread_id: str
    owner: ThreadOwner
    messages: tuple[Message, ...]
    updated_at: datetime
    version: int  # bumped by every write; the optimistic-concurrency counter
    encrypted: bool = False  # message texts are sealed (the agent is sensitive)

    @property
    def tenant_id(self) -> str:
        return self.owner.tenant_id

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.thread_id,
            "thread_id": self.thread_id,
            "tenant_id": self.owner.tenant_id,
            "principal": self.owner.principal,
            "agent": self.owner.agent,
            "messages": [m.to_doc() for m in self.messages],
            "updated_at": dt_to_doc(self.updated_at),
            "version": self.version,
            "encrypted": self.encrypted,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Thread:
        updated_at = dt_from_doc(doc["updated_at"])
        assert updated_at is not None
        # Threads stored before they had owners name nobody, so nobody can continue them.
        owner = ThreadOwner(doc["tenant_id"], doc.get("principal", ""), doc.get("agent", ""))
        return cls(
            thread_id=doc["thread_id"],
            owner=owner,
            messages=tuple(Message.from_doc(m) for m in doc.get("messages", [])),
            updated_at=updated_at,
            version=int(doc.get("version", 0)),
            encrypted=bool(doc.get("encrypted", False)),
        )


def appended_thread(
    current: Thread | None,
    thread_id: str,
    owner: ThreadOwner,
    messages: tuple[Message, ...],
    max_messages: int,
    now: datetime,
    *,
    encrypted: bool,
) -> Thread:
    if current is not None and current.owner != owner:
        raise PermissionError(f"thread {thread_id} belongs to another user, agent or tenant")
    kept = ((current.messages if current else ()) + messages)[-max_messages:]
    version = (current.version if current else 0) + 1
    # Once a thread holds sealed texts it stays marked, so readers know to open them.
    sealed = encrypted or (current is not None and current.encrypted)
    return Thread(thread_id, owner, kept, now, version, sealed)


def retexted_thread(
    current: Thread, texts: tuple[str, ...], expected_version: int, now: datetime
) -> Thread:
    """The same messages with new texts (re-encryption), marked encrypted."""
    if current.version != expected_version:
        raise ConcurrencyError(
            f"thread {current.thread_id} is at version {current.version}, not {expected_version}"
        )
    if len(texts) != len(current.messages):
        raise ValueError(f"{len(texts)} texts given for {len(current.messages)} messages")
    messages = tuple(
        Message(m.role, text, m.at) for m, text in zip(current.messages, texts, strict=True)
    )
    return Thread(current.thread_id, current.owner, messages, now, current.version + 1, True)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of a tenant's audit trail.

    `seq` is the entry's position in the tenant's chain (0, 1, 2, ...); the store refuses a second
    entry at the same position, so concurrent writers cannot fork a hash chain.
    """

    id: str
    tenant_id: str
    seq: int
    at: datetime
    principal: str
    action: str
    resource: str
    outcome: str
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str | None = None
    hash: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": seq_id(self.seq),
            "entry_id": self.id,
            "tenant_id": self.tenant_id,
            "seq": self.seq,
            "at": dt_to_doc(self.at),
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "outcome": self.outcome,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> AuditEntry:
        at = dt_from_doc(doc["at"])
        assert at is not None
        return cls(
            id=doc["entry_id"],
            tenant_id=doc["tenant_id"],
            seq=int(doc["seq"]),
            at=at,
            principal=doc["principal"],
            action=doc["action"],
            resource=doc["resource"],
            outcome=doc["outcome"],
            details=dict(doc.get("details") or {}),
            prev_hash=doc.get("prev_hash"),
            hash=doc.get("hash"),
        )


def seq_id(seq: int) -> str:
    # Zero-padded so that the document id is unique per position and sorts like the number.
    if seq < 0:
        raise ValueError("seq must be >= 0")
    return f"{seq:020d}"


@dataclass(frozen=True, slots=True)
class Page[T]:
    items: list[T]
    continuation: str | None  # pass back to get the next page; None on the last page


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A response cache entry to write with an item's outcome: the cache's own value, its TTL."""

    key: str
    value: dict[str, Any]
    ttl_s: int


def cache_doc(key: str, value: dict[str, Any], expires_at: datetime, ttl_s: int) -> dict[str, Any]:
    # `ttl` drives Cosmos DB's expiry; `expires_at` lets each adapter judge expiry by its clock.
    return {
        "id": key,
        "key": key,
        "value": value,
        "expires_at": dt_to_doc(expires_at),
        "ttl": ttl_s,
    }


def usage_doc(scope: str, day: str, tokens: int, cost: float) -> dict[str, Any]:
    return {"id": day, "scope": scope, "day": day, "tokens": tokens, "cost": cost}


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """A cost or compliance report that was built and stored: what listings show, and where
    its full JSON and HTML are (blob names in the `reports` blob container)."""

    id: str
    kind: str  # "cost" | "compliance"
    period_start: datetime
    period_end: datetime
    created_at: datetime
    headline: dict[str, Any] = field(default_factory=dict)  # a few figures: totals, flags
    blobs: dict[str, str] = field(default_factory=dict)  # format ("json", "html") -> blob name

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "period_start": dt_to_doc(self.period_start),
            "period_end": dt_to_doc(self.period_end),
            "created_at": dt_to_doc(self.created_at),
            "headline": self.headline,
            "blobs": self.blobs,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ReportRecord:
        start, end = dt_from_doc(doc["period_start"]), dt_from_doc(doc["period_end"])
        created_at = dt_from_doc(doc["created_at"])
        assert start is not None and end is not None and created_at is not None
        return cls(
            id=doc["id"],
            kind=doc["kind"],
            period_start=start,
            period_end=end,
            created_at=created_at,
            headline=dict(doc.get("headline") or {}),
            blobs={str(k): str(v) for k, v in (doc.get("blobs") or {}).items()},
        )
