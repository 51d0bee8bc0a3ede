"""How an orchestration's actions become work: activities, timers, children, its end.

Each action adds statements to the episode's group commit, so the work it creates and the history
that records it are persisted together.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

from .activities import missing_function
from .client_operations import ClientOperations
from .clock import format_time, parse_time
from .dispatch import WorkDispatch
from .engine_state import TimerEntry, WorkItem
from .entities import EntityDispatch
from .history import RETRY_MARK, Event, EventType, make_event
from .instances import UPSERT_INSTANCE, Instance
from .replay import EpisodeResult, NewTask
from .store import Statement

logger = logging.getLogger(__name__)


class OrchestrationActions(ClientOperations, WorkDispatch, EntityDispatch):
    """Schedule what an episode asked for; continue an instance as new or finish it."""

    def _schedule(
        self,
        instance: Instance,
        task: NewTask,
        now: str,
        statements: list[Statement],
        *,
        dispatch: bool,
    ) -> Event:
        hub = self.store.hub
        mark = {RETRY_MARK: True} if task.is_retry else {}
        if task.kind == "activity":
            if dispatch:
                self._next_work_id += 1
                item = WorkItem(
                    self._next_work_id,
                    instance.instance_id,
                    instance.execution_id,
                    task.task_id,
                    task.name,
                    task.input,
                )
                statements.append(
                    (
                        "INSERT INTO activity_work (hub, id, instance_id, execution_id,"
                        " task_id, name, input) VALUES (?,?,?,?,?,?,?)",
                        (
                            hub,
                            item.work_id,
                            item.instance_id,
                            item.execution_id,
                            item.task_id,
                            item.name,
                            item.input,
                        ),
                    )
                )
                assert self._work is not None
                self._work.put_nowait(item)
            return make_event(
                EventType.TASK_SCHEDULED,
                now,
                task.task_id,
                Name=task.name,
                Input=task.input,
                **mark,
            )
        if task.kind == "timer":
            fire_at = task.fire_at
            if fire_at is None:  # a retry back-off timer
                fire_at = parse_time(now) + timedelta(milliseconds=task.retry_interval_ms or 0)
            if dispatch and task.armed:
                entry = TimerEntry(
                    fire_at, instance.instance_id, instance.execution_id, task.task_id
                )
                statements.append(
                    (
                        "INSERT OR REPLACE INTO timers (hub, instance_id, execution_id, timer_id,"
                        " fire_at) VALUES (?,?,?,?,?)",
                        (
                            hub,
                            entry.instance_id,
                            entry.execution_id,
                            entry.timer_id,
                            format_time(fire_at),
                        ),
                    )
                )
                self._arm_timer(entry)
            return make_event(
                EventType.TIMER_CREATED, now, task.task_id, FireAt=format_time(fire_at), **mark
            )
        child_id = task.instance_id or f"{instance.instance_id}:{task.task_id}"
        if dispatch:
            self._start_child(instance, task, child_id, statements)
        return make_event(
            EventType.SUB_ORCHESTRATION_CREATED,
            now,
            task.task_id,
            Name=task.name,
            InstanceId=child_id,
            Input=task.input,
            Version=task.version,
            **mark,
        )

    def _start_child(
        self, parent: Instance, task: NewTask, child_id: str, statements: list[Statement]
    ) -> None:
        if task.name not in self.orchestrators:
            outcome = missing_function(task.name, "an orchestrator")
            event = make_event(
                EventType.SUB_ORCHESTRATION_FAILED,
                self.now_text(),
                TaskScheduledId=task.task_id,
                Reason=outcome.reason,
                Details=outcome.details,
            )
            self._followups.append((parent, event))
            return
        # The child commits before the parent's episode; after a crash in between, the
        # parent replays, schedules the child again and the start replaces it.
        self._create_instance(
            task.name,
            child_id,
            task.input,
            parent=(parent.instance_id, parent.execution_id, task.task_id),
            trace=parent.trace,  # Durable keeps a child in its parent's trace
            # As in Azure: the version asked for, else host.json's, never the parent's.
            version=self.versioning.version_for_new(task.version),
        )

    def _continue_as_new(
        self,
        instance: Instance,
        appended: list[Event],
        result: EpisodeResult,
        statements: list[Statement],
    ) -> None:
        assert instance.history is not None
        carried = [
            event
            for event in instance.history + appended
            if event["EventType"] == EventType.EVENT_RAISED
            and event.get("Name") in result.unconsumed_events
        ]
        hub = self.store.hub
        statements += [
            (f"DELETE FROM {table} WHERE hub = ? AND instance_id = ?", (hub, instance.instance_id))
            for table in ("history", "activity_work", "timers")
        ]
        instance.execution_id = uuid.uuid4().hex
        instance.input = result.continue_as_new_input
        instance.output = None
        instance.reset_history([])
        instance.last_updated_time = self.now_text()
        statements.append((UPSERT_INSTANCE, instance.row_params(hub)))
        now = self.now_text()
        started = make_event(
            EventType.EXECUTION_STARTED,
            now,
            Name=instance.name,
            Input=instance.input,
            ParentTraceContext=instance.trace.to_event() if instance.trace else None,
        )
        started["Version"] = instance.version  # a new execution keeps the instance's version
        logger.info("orchestration continued as new: %s (%s)", instance.instance_id, instance.name)
        statements.append(self._enqueue(instance, instance.execution_id, started))
        for event in carried:
            clean = {key: value for key, value in event.items() if key != "IsPlayed"}
            statements.append(self._enqueue(instance, None, clean))

    def _finish(
        self,
        instance: Instance,
        status: str,
        output: str | None,
        statements: list[Statement],
        *,
        appended: list[Event],
    ) -> None:
        hub = self.store.hub
        if appended:
            assert instance.history is not None
            start = len(instance.history) - len(appended)
            statements += [
                (
                    "INSERT INTO history (hub, instance_id, seq, event) VALUES (?,?,?,?)",
                    (hub, instance.instance_id, start + offset, json.dumps(event)),
                )
                for offset, event in enumerate(appended)
            ]
        instance.status = status
        instance.output = output
        instance.last_updated_time = self.now_text()
        statements.append((UPSERT_INSTANCE, instance.row_params(hub)))
        statements += [
            (f"DELETE FROM {table} WHERE hub = ? AND instance_id = ?", (hub, instance.instance_id))
            for table in ("activity_work", "timers")
        ]
        parent = (
            self.instances.get(instance.parent_instance_id) if instance.parent_instance_id else None
        )
        if parent is not None and not parent.is_terminal:
            if status == "Completed":
                event = make_event(
                    EventType.SUB_ORCHESTRATION_COMPLETED,
                    self.now_text(),
                    TaskScheduledId=instance.parent_task_id,
                    Result=output,
                )
            else:
                reason = json.loads(output) if output else status
                event = make_event(
                    EventType.SUB_ORCHESTRATION_FAILED,
                    self.now_text(),
                    TaskScheduledId=instance.parent_task_id,
                    Reason=f"Sub-orchestration '{instance.name}' "
                    f"({instance.instance_id}) {status.lower()}: {reason}",
                    Details="",
                )
            statements.append(self._enqueue(parent, instance.parent_execution_id, event))
        for waiter in self._waiters.pop(instance.instance_id, []):
            if not waiter.done():
                waiter.set_result(None)
