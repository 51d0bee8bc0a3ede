"""In-memory view of one orchestration instance and its status JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from devhost.trace_context import InvocationTrace

from .history import Event, EventType, public_event, scheduled_ids, scheduled_signature
from .store import TERMINAL_STATUSES, InstanceRow

RUNNING_STATUSES = frozenset({"Pending", "Running", "Suspended", "ContinuedAsNew"})


@dataclass
class Instance:
    instance_id: str
    name: str
    execution_id: str
    status: str
    input: str | None
    created_time: str
    last_updated_time: str
    output: str | None = None
    custom_status: str | None = None
    parent_instance_id: str | None = None
    parent_execution_id: str | None = None
    parent_task_id: int | None = None
    history: list[Event] | None = field(default_factory=list)  # None: only on disk
    inbox: list[tuple[int, str | None, Event]] = field(default_factory=list)
    known_ids: set[int] = field(default_factory=set)
    signature: list[tuple[str, str]] = field(default_factory=list)
    # The trace context of whoever started it (ExecutionStarted's ParentTraceContext).
    trace: InvocationTrace | None = None
    # The orchestration version it was created with (None: unversioned), fixed for its life.
    version: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def reset_history(self, history: list[Event]) -> None:
        self.history = history
        self.known_ids = scheduled_ids(history)
        self.signature = scheduled_signature(history)

    @classmethod
    def from_row(cls, row: InstanceRow, history: list[Event] | None) -> Instance:
        instance = cls(
            instance_id=row.instance_id,
            name=row.name,
            execution_id=row.execution_id,
            status=row.status,
            input=row.input,
            created_time=row.created_time,
            last_updated_time=row.last_updated_time,
            output=row.output,
            custom_status=row.custom_status,
            parent_instance_id=row.parent_instance_id,
            parent_execution_id=row.parent_execution_id,
            parent_task_id=row.parent_task_id,
            version=row.version,
        )
        if history is None:
            instance.history = None
        else:
            instance.reset_history(history)
            instance.trace = next(
                (
                    InvocationTrace.from_event(event.get("ParentTraceContext"))
                    for event in history
                    if event["EventType"] == EventType.EXECUTION_STARTED
                ),
                None,
            )
        return instance

    def activity_trace(self) -> InvocationTrace:
        """The context an activity of this instance is invoked in: its starter's trace, or
        one trace per execution when nobody passed one."""
        return self.trace or InvocationTrace.new_trace(self.execution_id)

    def row_params(self, hub: str) -> tuple[Any, ...]:
        return (
            hub,
            self.instance_id,
            self.name,
            self.execution_id,
            self.status,
            self.input,
            self.output,
            self.custom_status,
            self.created_time,
            self.last_updated_time,
            self.parent_instance_id,
            self.parent_execution_id,
            self.parent_task_id,
            self.version,
        )


UPSERT_INSTANCE = (
    "INSERT OR REPLACE INTO instances (hub, instance_id, name, execution_id, status, input,"
    " output, custom_status, created_time, last_updated_time, parent_instance_id,"
    " parent_execution_id, parent_task_id, version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def _parsed(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def status_json(
    instance: Instance,
    *,
    show_input: bool = True,
    history: list[Event] | None = None,
    show_history_output: bool = False,
) -> dict[str, Any]:
    """The status shape of the Durable HTTP API (and DurableOrchestrationStatus.from_json)."""
    body: dict[str, Any] = {
        "name": instance.name,
        "instanceId": instance.instance_id,
        "runtimeStatus": instance.status,
        "input": _parsed(instance.input) if show_input else None,
        "customStatus": _parsed(instance.custom_status),
        "output": _parsed(instance.output),
        "createdTime": instance.created_time,
        "lastUpdatedTime": instance.last_updated_time,
        "version": instance.version,
    }
    if history is not None:
        events = []
        for event in history:
            shown = public_event(event)
            if not show_history_output:
                shown.pop("Result", None)
            events.append(shown)
        body["historyEvents"] = events
    return body
