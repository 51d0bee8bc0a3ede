"""The small, typed payloads that travel through durable history.

History keeps every input and output forever, so these carry references (run id, item indexes)
and counts, never queries or answers: those live in the store. Each model has defaults for new
fields so that instances started before a field existed still replay.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agentops.tracing import TraceCarrier


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RunSpec(_Payload):
    """Input of the agent_batch orchestration: one run, or one chunk [start, end) of it."""

    run_id: str
    tenant: str
    agent: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    batch_size: int = Field(ge=1)
    max_in_flight: int = Field(ge=1)
    # Items of one batch in flight at once; None: all of them. Below batch_size, an activity
    # streams its items through a window of its own, so a slow item does not idle the others.
    item_concurrency: int | None = Field(default=None, ge=1)
    chunk_size: int = Field(ge=1)
    max_attempts: int = Field(ge=1)
    retry_base_s: float = Field(gt=0)
    retry_max_s: float = Field(gt=0)
    is_root: bool = True
    # "batch": the provider's Batch API, in rounds (with `fallback`: failed items then go
    # through the interactive path). Absent in runs started before it existed: interactive.
    mode: str = "interactive"
    fallback: bool = False
    # The run's trace context (the HTTP request that started it): the orchestrator copies it
    # into each activity's input and starts no span itself. None: started before it existed.
    trace: TraceCarrier | None = None

    @property
    def size(self) -> int:
        return self.end - self.start


class BatchWork(_Payload):
    """Input of one run_agent_batch activity: which items to answer, and which of them are on
    their last chance (then a transient failure or an open breaker fails the item instead of
    sending it back)."""

    run_id: str
    tenant: str
    agent: str
    indexes: list[int]
    concurrency: int | None = Field(default=None, ge=1)  # items in flight; None: all
    attempt: int = Field(default=1, ge=1)
    last_chance: list[int] = Field(default_factory=list)
    # The orchestration instance that dispatched it (the run, or one of its chunks), for logs.
    instance_id: str | None = None
    trace: TraceCarrier | None = None  # the run's, copied from RunSpec


class BatchReport(_Payload):
    """Output of one run_agent_batch activity."""

    completed: int = 0
    failed: int = 0
    retry: list[int] = Field(default_factory=list)  # transient failures, still pending
    deferred: list[int] = Field(default_factory=list)  # not tried (breaker open): no attempt spent
    retry_after_s: float = 0.0  # the longest wait the endpoint asked for (retry-after, cool-down)
    stopped: str | None = None  # set when a budget stops the run; the items stay pending


class ChunkReport(_Payload):
    """Output of agent_batch: counts for its range."""

    completed: int = 0
    failed: int = 0
    pending: int = 0
    stopped: str | None = None
    # Items put back without spending an attempt (open breaker, long retry-after), each time.
    deferrals: int = 0


class FinalizeWork(_Payload):
    run_id: str
    status: str
    reason: str | None = None
    trace: TraceCarrier | None = None  # the run's, copied from RunSpec


def chunk_instance_id(run_id: str, number: int) -> str:
    """The sub-orchestration that runs chunk `number` of a run (cancel stops it by this id)."""
    return f"{run_id}:chunk:{number}"


QUEUED = "queued"


class ProviderBatch(_Payload):
    """One batch at the provider, as the batch-mode orchestration tracks it."""

    label: str  # deterministic: the run, round and file; finds the batch again after a crash
    batch_id: str  # "" while queued: uploaded, waiting for room under the enqueued-token limit
    status: str = "validating"
    indexes: list[int] = Field(default_factory=list)  # the items its file carries
    file_id: str | None = None
    tokens: int = 0  # the prompt tokens its file enqueues, estimated from its size

    @property
    def queued(self) -> bool:
        return self.status == QUEUED


class RoundWork(_Payload):
    """Input of submit_batch_round: build round `round` for `indexes`, upload, create batches.

    `history` names the blob of the answers earlier rounds returned (None in round 1)."""

    run_id: str
    tenant: str
    agent: str
    round: int = Field(ge=1)
    indexes: list[int]
    history: str | None = None
    trace: TraceCarrier | None = None


class RoundPlan(_Payload):
    """Output of submit_batch_round: items settled without the model, and the batches made."""

    completed: int = 0
    failed: int = 0
    batches: list[ProviderBatch] = Field(default_factory=list)
    # Prompt tokens the run may have enqueued at the deployment at once; None: no limit.
    enqueued_limit: int | None = None


class StartWork(_Payload):
    """Input of start_batches: queued files that now fit under the enqueued-token limit."""

    batches: list[ProviderBatch]
    trace: TraceCarrier | None = None


class StartReport(_Payload):
    batches: list[ProviderBatch] = Field(default_factory=list)


class PollWork(_Payload):
    """Input of poll_batches and cancel_batches."""

    batch_ids: list[str]
    trace: TraceCarrier | None = None


class PollReport(_Payload):
    statuses: dict[str, str] = Field(default_factory=dict)  # batch id -> provider status


class CollectWork(_Payload):
    """Input of collect_batch_round: read the round's finished batches back."""

    run_id: str
    tenant: str
    agent: str
    round: int = Field(ge=1)
    batches: list[ProviderBatch]
    history: str | None = None
    max_attempts: int = Field(ge=1)
    fallback: bool = False
    trace: TraceCarrier | None = None


class RoundReport(_Payload):
    """Output of collect_batch_round: who goes into the next round, and the new history."""

    next: list[int] = Field(default_factory=list)  # answered (maybe asking for tools) or retried
    failed: int = 0
    fallback: list[int] = Field(default_factory=list)  # for the interactive path
    history: str | None = None
