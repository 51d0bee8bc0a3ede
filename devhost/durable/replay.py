"""One orchestrator episode: history into the Durable SDK's own executor, its decisions out.

The SDK's `Orchestrator` runs the user's generator over the history and reports the actions it
scheduled. We call the same executor the `Orchestrator.create` wrapper calls, but keep the context
object, so that the task ids the SDK assigned (its sequence numbers) can be read from its open tasks
instead of being re-derived here.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.durable_functions.models.actions.Action import Action
from azure.durable_functions.models.actions.CallActivityAction import CallActivityAction
from azure.durable_functions.models.actions.CallActivityWithRetryAction import (
    CallActivityWithRetryAction,
)
from azure.durable_functions.models.actions.CallEntityAction import CallEntityAction
from azure.durable_functions.models.actions.CallHttpAction import CallHttpAction
from azure.durable_functions.models.actions.CallSubOrchestratorAction import (
    CallSubOrchestratorAction,
)
from azure.durable_functions.models.actions.CallSubOrchestratorWithRetryAction import (
    CallSubOrchestratorWithRetryAction,
)
from azure.durable_functions.models.actions.CompoundAction import CompoundAction
from azure.durable_functions.models.actions.ContinueAsNewAction import ContinueAsNewAction
from azure.durable_functions.models.actions.CreateTimerAction import CreateTimerAction
from azure.durable_functions.models.actions.NoOpAction import NoOpAction
from azure.durable_functions.models.actions.SignalEntityAction import SignalEntityAction
from azure.durable_functions.models.actions.WaitForExternalEventAction import (
    WaitForExternalEventAction,
)
from azure.durable_functions.models.DurableOrchestrationContext import (
    DurableOrchestrationContext,
)
from azure.durable_functions.models.ReplaySchema import ReplaySchema
from azure.durable_functions.models.Task import AtomicTask, RetryAbleTask, TimerTask
from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor

from .durable_http import HTTP_ACTIVITY
from .history import Event

# The SDK modules that parse timestamps with dateutil: each history event on every episode, and
# the created and last-updated times of every status the client reads (a polled run's status
# repeats them until its next episode).
_TIMESTAMP_PARSERS = (
    "azure.durable_functions.models.history.HistoryEvent",
    "azure.durable_functions.models.DurableOrchestrationStatus",
)


def _memoize_sdk_timestamps() -> None:
    """Parse each timestamp the SDK reads once per process instead of once per read.

    The SDK builds a `HistoryEvent` for every event of the history on every episode and parses its
    timestamp with dateutil, the largest single cost of a replay once a history holds hundreds of
    events. The parser is wrapped, not replaced: the same function answers every first request,
    and datetimes are immutable, so a cached one is indistinguishable from a fresh one.
    """
    for name in _TIMESTAMP_PARSERS:
        module = importlib.import_module(name)
        parse = module.dt_parse
        if not isinstance(parse, functools._lru_cache_wrapper):
            module.dt_parse = functools.lru_cache(maxsize=1 << 16)(parse)


_memoize_sdk_timestamps()

OUT_OF_PROC_MARK = "\n\n$OutOfProcData$:"
RETRY_TIMER_METADATA = "-WithRetry timer"

ActivityActions = (CallActivityAction, CallActivityWithRetryAction)
SubOrchestrationActions = (CallSubOrchestratorAction, CallSubOrchestratorWithRetryAction)


@dataclass(frozen=True)
class NewTask:
    """Something the orchestrator (or the SDK's retry bookkeeping) now waits on."""

    task_id: int
    kind: str  # "activity" | "timer" | "suborchestration"
    name: str
    input: str | None = None
    fire_at: datetime | None = None
    instance_id: str | None = None
    retry_interval_ms: int | None = None  # retry timers: the policy's interval
    is_retry: bool = False
    armed: bool = True  # False for a timer cancelled before it was ever recorded
    version: str | None = None  # sub-orchestrations: the version asked for, if any


@dataclass(frozen=True)
class EntitySend:
    """A message the orchestrator sent an entity, in the order it sent them."""

    kind: str  # "signal" | "call"
    target: str  # the entity's instance id, "@name@key"
    operation: str
    input: str | None  # JSON text
    task_id: int | None = None  # the SDK's task id of a call; its EventSent carries it


@dataclass
class EpisodeResult:
    signature: list[tuple[str, str]]
    new_tasks: list[NewTask] = field(default_factory=list)
    cancelled_timers: set[int] = field(default_factory=set)
    done: bool = False
    continue_as_new_input: str | None = None
    continued_as_new: bool = False
    output: str | None = None  # JSON text
    error: str | None = None
    custom_status: str | None = None  # JSON text
    unconsumed_events: set[str] = field(default_factory=set)
    unsupported: str | None = None
    entity_sends: list[EntitySend] = field(default_factory=list)


def _flatten(actions: list[Action]) -> Iterator[Action]:
    for action in actions:
        if isinstance(action, CompoundAction):
            yield from _flatten(action.compound_tasks)
        elif isinstance(action, list):
            yield from _flatten(action)
        else:
            yield action


def _signature_entry(action: Action) -> tuple[str, str] | None:
    if isinstance(action, ActivityActions):
        return ("activity", action.function_name)
    if isinstance(action, CallHttpAction):
        return ("activity", HTTP_ACTIVITY)  # as Azure records it: a built-in activity
    if isinstance(action, SubOrchestrationActions):
        return ("suborchestration", action.function_name)
    if isinstance(action, CreateTimerAction):
        return ("timer", "")
    return None


def _open_atomic_tasks(context: DurableOrchestrationContext) -> Iterator[AtomicTask]:
    for key, value in context.open_tasks.items():
        if not isinstance(key, int):
            continue
        tasks = value if isinstance(value, list) else [value]
        for task in tasks:
            if isinstance(task, AtomicTask):
                yield task


def _task_action(task: AtomicTask) -> Action:
    return task.action_repr[0] if isinstance(task.action_repr, list) else task.action_repr


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def run_episode(
    handle: Callable[..., Any],
    *,
    instance_id: str,
    parent_instance_id: str | None,
    input_text: str | None,
    history: list[Event],
    known_ids: set[int],
    child_id_prefix: str,
) -> EpisodeResult:
    """Replay `history` through the SDK and return the new work and the episode's outcome.

    `handle` is the function `DFApp` registered (Orchestrator.create's handle); `known_ids` are
    task ids that already have a scheduling event in history.
    """
    body = {
        "history": history,
        "input": input_text,
        "instanceId": instance_id,
        "isReplaying": False,
        "parentInstanceId": parent_instance_id,
        "upperSchemaVersion": ReplaySchema.V2.value,
    }
    # HistoryEvent copies what it needs out of each event; the dicts themselves are not changed.
    context = DurableOrchestrationContext(**body)
    context._input_expected_type = getattr(handle, "_df_input_type", None)
    generator_fn = getattr(handle, "orchestrator_function", handle)
    executor = TaskOrchestrationExecutor()
    try:
        state_text = executor.execute(context, context.histories, generator_fn)
    except Exception as exc:  # the SDK reports orchestrator failures by raising
        text = str(exc)
        if OUT_OF_PROC_MARK not in text:
            raise
        state_text = text.split(OUT_OF_PROC_MARK, 1)[1]
    state = json.loads(state_text)

    flat = list(_flatten(context._actions))
    result = EpisodeResult(signature=[])
    call_ids = {id(_task_action(task)): task.id for task in _open_atomic_tasks(context)}
    for action in flat:
        entry = _signature_entry(action)
        if entry is not None:
            result.signature.append(entry)
        elif isinstance(action, ContinueAsNewAction):
            result.continue_as_new_input = action.input_
        elif isinstance(action, (SignalEntityAction, CallEntityAction)):
            result.entity_sends.append(_entity_send(action, call_ids.get(id(action))))
        elif not isinstance(action, WaitForExternalEventAction):
            result.unsupported = type(action).__name__.removesuffix("Action")

    for task in _open_atomic_tasks(context):
        if task.id in known_ids:
            if isinstance(task, TimerTask) and task.is_cancelled:
                result.cancelled_timers.add(task.id)
            continue
        new = _new_task(task, child_id_prefix)
        if new is not None:
            result.new_tasks.append(new)
    result.new_tasks.sort(key=lambda new: new.task_id)

    if "customStatus" in state:
        result.custom_status = json.dumps(state["customStatus"])
    if state.get("error") is not None:
        result.done = True
        result.error = state["error"]
    elif state.get("isDone"):
        result.done = True
        if context.will_continue_as_new:
            result.continued_as_new = True
        else:
            result.output = json.dumps(state.get("output"))
    result.unconsumed_events = {key for key in context.deferred_tasks if isinstance(key, str)}
    return result


def _entity_send(action: SignalEntityAction | CallEntityAction, task_id: int | None) -> EntitySend:
    kind = "signal" if isinstance(action, SignalEntityAction) else "call"
    return EntitySend(
        kind,
        action.instance_id,
        action.operation,
        action.input_,
        task_id if kind == "call" else None,
    )


def _new_task(task: AtomicTask, child_id_prefix: str) -> NewTask | None:
    action = _task_action(task)
    if isinstance(action, NoOpAction):
        parent = task.parent
        if not isinstance(parent, RetryAbleTask):
            return None
        if action.metadata == RETRY_TIMER_METADATA:
            interval = parent.retry_options.first_retry_interval_in_milliseconds
            return NewTask(task.id, "timer", "", retry_interval_ms=interval, is_retry=True)
        action = parent.actions[0] if isinstance(parent.actions, list) else parent.actions
        return _from_action(task.id, action, child_id_prefix, is_retry=True)
    return _from_action(task.id, action, child_id_prefix, is_retry=False)


def _from_action(task_id: int, action: Action, prefix: str, *, is_retry: bool) -> NewTask | None:
    if isinstance(action, ActivityActions):
        return NewTask(
            task_id, "activity", action.function_name, input=action.input_, is_retry=is_retry
        )
    if isinstance(action, CallHttpAction):
        request = json.dumps(action.http_request.to_json())
        return NewTask(task_id, "activity", HTTP_ACTIVITY, input=request, is_retry=is_retry)
    if isinstance(action, SubOrchestrationActions):
        return NewTask(
            task_id,
            "suborchestration",
            action.function_name,
            input=action._input,
            instance_id=action.instance_id or f"{prefix}:{task_id}",
            is_retry=is_retry,
            version=action.version,
        )
    if isinstance(action, CreateTimerAction):
        return NewTask(
            task_id, "timer", "", fire_at=_aware(action.fire_at), armed=not action.is_cancelled
        )
    return None
