"""History events in the JSON shape the Durable SDK's HistoryEvent reads."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

Event = dict[str, Any]

# Marks scheduling events the engine added to drive a retry policy; they are not
# part of the orchestrator's own action sequence and are skipped by the determinism check.
RETRY_MARK = "DevhostRetry"


class EventType(IntEnum):
    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_CREATED = 7
    SUB_ORCHESTRATION_COMPLETED = 8
    SUB_ORCHESTRATION_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16
    GENERIC_EVENT = 17
    HISTORY_STATE = 18
    EXECUTION_SUSPENDED = 19
    EXECUTION_RESUMED = 20


SCHEDULING_EVENTS = {
    EventType.TASK_SCHEDULED: "activity",
    EventType.TIMER_CREATED: "timer",
    EventType.SUB_ORCHESTRATION_CREATED: "suborchestration",
}


def make_event(kind: EventType, timestamp: str, event_id: int = -1, **fields: Any) -> Event:
    event: Event = {
        "EventType": int(kind),
        "EventId": event_id,
        "IsPlayed": True,
        "Timestamp": timestamp,
    }
    event.update({key: value for key, value in fields.items() if value is not None})
    return event


def scheduled_signature(history: list[Event]) -> list[tuple[str, str]]:
    """(kind, name) of every action the orchestrator itself scheduled, in order."""
    signature: list[tuple[str, str]] = []
    for event in history:
        kind = SCHEDULING_EVENTS.get(event["EventType"])  # type: ignore[call-overload]
        if kind is not None and not event.get(RETRY_MARK):
            signature.append((kind, event.get("Name") or ""))
    return signature


def scheduled_ids(history: list[Event]) -> set[int]:
    return {event["EventId"] for event in history if event["EventType"] in SCHEDULING_EVENTS}


def public_event(event: Event) -> Event:
    """The event as the status API shows it: EventType by name, no engine marks."""
    shown = {key: value for key, value in event.items() if key != RETRY_MARK}
    shown["EventType"] = EventType(event["EventType"]).name.title().replace("_", "")
    return shown
