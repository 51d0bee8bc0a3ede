"""One step of one orchestration: take its inbox, replay it through the SDK, apply the result."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from .entities import explain_orchestrator_error
from .history import RETRY_MARK, Event, EventType, make_event
from .instances import UPSERT_INSTANCE, Instance
from .orchestration_actions import OrchestrationActions
from .replay import EpisodeResult, run_episode
from .store import Statement
from .versioning import VersionFailureStrategy

logger = logging.getLogger(__name__)

NON_DETERMINISM_HINT = (
    "Was a change made to the orchestrator code after this instance had already started running?"
)


class OrchestrationStep(OrchestrationActions):
    """The orchestrator workers: one episode per instance at a time."""

    # ----------------------------------------------------------------- orchestrators

    async def _orchestrator_worker(self) -> None:
        assert self._ready is not None
        while True:
            instance_id = await self._ready.get()
            self._queued.discard(instance_id)
            if instance_id in self._replaying:
                continue  # the running episode re-queues the instance when it finishes
            instance = self.instances.get(instance_id)
            if instance is None or not instance.inbox:
                continue
            self._replaying.add(instance_id)
            try:
                await self._run_episode(instance)
            except Exception:
                logger.exception("orchestrator episode crashed: instance %s", instance_id)
            finally:
                self._replaying.discard(instance_id)
                self._last_busy = time.monotonic()
                current = self.instances.get(instance_id)
                if current is not None and current.inbox and self._runnable(current):
                    self._mark_ready(instance_id)

    def _runnable(self, instance: Instance) -> bool:
        if self._rejected_version(instance):
            # Left as it is (versionFailureStrategy Reject); only terminate still reaches it,
            # since on one host nothing else ever would.
            return any(
                event["EventType"] == EventType.EXECUTION_TERMINATED
                for _, _, event in instance.inbox
            )
        if instance.status != "Suspended":
            return True
        return any(
            event["EventType"] in (EventType.EXECUTION_RESUMED, EventType.EXECUTION_TERMINATED)
            for _, _, event in instance.inbox
        )

    def _rejected_version(self, instance: Instance) -> bool:
        """Whether the instance's version is one this host leaves alone, said once per instance."""
        policy = self.versioning
        if policy.failure is not VersionFailureStrategy.REJECT or instance.is_terminal:
            return False
        reason = policy.mismatch(instance.version)
        if reason is None:
            return False
        if instance.instance_id not in self._version_warned:
            self._version_warned.add(instance.instance_id)
            logger.warning(
                "orchestration %s (%s) is not run: %s It stays %s until devhost runs with a "
                "host.json whose defaultVersion and versionMatchStrategy accept it "
                "(versionFailureStrategy is Reject).",
                instance.instance_id,
                instance.name,
                reason,
                instance.status,
            )
        return True

    async def _run_episode(self, instance: Instance) -> None:
        if not self._runnable(instance):
            return  # suspended or rejected: the events wait in the inbox
        statements: list[Statement] = []
        hub = self.store.hub
        taken, instance.inbox = instance.inbox, []
        statements += [
            ("DELETE FROM inbox WHERE hub = ? AND id = ?", (hub, row_id)) for row_id, _, _ in taken
        ]
        events = [
            event
            for _, execution_id, event in taken
            if execution_id is None or execution_id == instance.execution_id
        ]
        ready = self._prepare_events(instance, events, statements)
        if ready is None:
            self.store.submit(statements)
            return
        await self._replay(instance, ready, statements)
        self.store.submit(statements)

    def _prepare_events(
        self, instance: Instance, events: list[Event], statements: list[Statement]
    ) -> list[Event] | None:
        """The events the orchestrator should see next, or None when there is nothing to run."""
        if instance.is_terminal or instance.history is None:
            return None
        remaining = self._apply_control_events(instance, events, statements)
        if not remaining:
            return None
        if not instance.history:
            # A new execution: ExecutionStarted must open the history; anything that arrived
            # before it (events carried over by continue-as-new) follows it.
            starts = [e for e in remaining if e["EventType"] == EventType.EXECUTION_STARTED]
            if not starts:
                return None
            rest = [e for e in remaining if e["EventType"] != EventType.EXECUTION_STARTED]
            return starts[:1] + rest
        return remaining

    async def _replay(
        self, instance: Instance, events: list[Event], statements: list[Statement]
    ) -> None:
        assert instance.history is not None

        now = self.now_text()
        started = make_event(EventType.ORCHESTRATOR_STARTED, now)
        new_events = [started, *events]
        replay_history = list(instance.history)
        for event in new_events:
            event["IsPlayed"] = False
        replay_history += new_events
        handle = self.orchestrators.get(instance.name)
        execution_id = instance.execution_id
        loop = asyncio.get_running_loop()
        version_error = self.versioning.mismatch(instance.version)
        if version_error is not None:  # versionFailureStrategy Fail (Reject never gets here)
            result = EpisodeResult(signature=[], done=True, error=version_error)
        elif instance.name in self.unservable:
            reason = f"it cannot run in devhost: {self.unservable[instance.name]}"
            result = EpisodeResult(signature=[], done=True, error=reason)
        elif handle is None:
            result = EpisodeResult(
                signature=[],
                done=True,
                error=f"The orchestrator '{instance.name}' is not registered",
            )
        else:
            try:
                result = await loop.run_in_executor(
                    self._replay_pool,
                    lambda: run_episode(
                        handle,
                        instance_id=instance.instance_id,
                        parent_instance_id=instance.parent_instance_id,
                        input_text=instance.input,
                        history=replay_history,
                        known_ids=instance.known_ids,
                        child_id_prefix=instance.instance_id,
                    ),
                )
            except Exception as exc:  # the SDK itself failed: fail the instance, loudly
                logger.exception("replay failed: instance %s", instance.instance_id)
                result = EpisodeResult(
                    signature=[], done=True, error=f"{type(exc).__name__}: {exc}"
                )
        if self.instances.get(instance.instance_id) is not instance or (
            instance.execution_id != execution_id or instance.is_terminal
        ):
            return  # purged, restarted or terminated meanwhile
        for event in new_events:
            event["IsPlayed"] = True
        self._apply_episode(instance, new_events, result, statements)

    def _apply_control_events(
        self, instance: Instance, events: list[Event], statements: list[Statement]
    ) -> list[Event] | None:
        """Handle terminate/suspend/resume; return the events left for the orchestrator."""
        remaining: list[Event] = []
        for event in events:
            kind = event["EventType"]
            if kind == EventType.EXECUTION_TERMINATED:
                reason = event.get("Input")
                assert instance.history is not None
                instance.history.append(event)
                self._finish(instance, "Terminated", reason, statements, appended=[event])
                logger.info(
                    "orchestration terminated: %s (%s)", instance.instance_id, instance.name
                )
                return None
            if kind == EventType.EXECUTION_SUSPENDED:
                instance.status = "Suspended"
                self._touch(instance, statements)
                continue
            if kind == EventType.EXECUTION_RESUMED:
                if instance.status == "Suspended":
                    instance.status = "Running"
                    self._touch(instance, statements)
                continue
            remaining.append(event)
        if instance.status == "Suspended":
            # Keep the orchestrator's events until it is resumed.
            statements += [self._enqueue(instance, None, event) for event in remaining]
            return None
        return remaining

    def _touch(self, instance: Instance, statements: list[Statement]) -> None:
        instance.last_updated_time = self.now_text()
        statements.append((UPSERT_INSTANCE, instance.row_params(self.store.hub)))

    def _apply_episode(
        self,
        instance: Instance,
        new_events: list[Event],
        result: EpisodeResult,
        statements: list[Statement],
    ) -> None:
        self._followups.clear()
        now = new_events[0]["Timestamp"]
        appended: list[Event] = list(new_events)
        error = result.error
        if error is None and result.unsupported is not None:
            error = f"{result.unsupported} is not supported by the devhost durable engine"
        if error is None:
            error = self._determinism_error(instance, result) or self._entity_determinism_error(
                instance, result
            )
        if result.custom_status is not None:
            instance.custom_status = result.custom_status
        if error is not None:
            error = explain_orchestrator_error(error)
            message = f"Orchestrator function '{instance.name}' failed: {error}"
            appended.append(make_event(EventType.EXECUTION_FAILED, now, Reason=message))
            self._record(instance, appended, statements)
            self._finish(instance, "Failed", json.dumps(message), statements, appended=[])
            logger.info(
                "orchestration failed: %s (%s): %s",
                instance.instance_id,
                instance.name,
                error.splitlines()[0] if error else "",
            )
            return

        for task in result.new_tasks:
            appended.append(
                self._schedule(instance, task, now, statements, dispatch=not result.done)
            )
        for timer_id in result.cancelled_timers:
            self._armed.discard((instance.instance_id, instance.execution_id, timer_id))
            statements.append(
                (
                    "DELETE FROM timers WHERE hub = ? AND instance_id = ? AND execution_id = ?"
                    " AND timer_id = ?",
                    (self.store.hub, instance.instance_id, instance.execution_id, timer_id),
                )
            )
        appended += self._send_to_entities(instance, result, now, statements)

        if result.continued_as_new:
            self._continue_as_new(instance, appended, result, statements)
            return
        if result.done:
            appended.append(
                make_event(
                    EventType.EXECUTION_COMPLETED,
                    now,
                    OrchestrationStatus="Completed",
                    Result=result.output,
                )
            )
            self._record(instance, appended, statements)
            self._finish(instance, "Completed", result.output, statements, appended=[])
            logger.info("orchestration completed: %s (%s)", instance.instance_id, instance.name)
            return
        appended.append(make_event(EventType.ORCHESTRATOR_COMPLETED, now))
        if instance.status == "Pending":
            logger.info("orchestration started: %s (%s)", instance.instance_id, instance.name)
            instance.status = "Running"
        self._record(instance, appended, statements)
        instance.last_updated_time = self.now_text()
        statements.append((UPSERT_INSTANCE, instance.row_params(self.store.hub)))
        for parent, event in self._followups:
            statements.append(self._enqueue(parent, parent.execution_id, event))
        self._followups.clear()

    def _determinism_error(self, instance: Instance, result: EpisodeResult) -> str | None:
        recorded = instance.signature
        replayed = result.signature
        for index, expected in enumerate(recorded):
            actual = replayed[index] if index < len(replayed) else None
            if actual != expected:
                now_did = (
                    f"scheduled {actual[0]} '{actual[1]}'"
                    if actual is not None
                    else "has not scheduled it"
                )
                return (
                    f"Non-Deterministic workflow detected: a previous execution of this "
                    f"orchestration scheduled {expected[0]} '{expected[1]}' as its action "
                    f"#{index}, but the current replay {now_did}. {NON_DETERMINISM_HINT}"
                )
        return None

    def _record(self, instance: Instance, events: list[Event], statements: list[Statement]) -> None:
        assert instance.history is not None
        hub = self.store.hub
        start = len(instance.history)
        for offset, event in enumerate(events):
            instance.history.append(event)
            kind = event["EventType"]
            if kind in (
                EventType.TASK_SCHEDULED,
                EventType.TIMER_CREATED,
                EventType.SUB_ORCHESTRATION_CREATED,
            ):
                instance.known_ids.add(event["EventId"])
                if not event.get(RETRY_MARK):
                    instance.signature.append(
                        (
                            {
                                EventType.TASK_SCHEDULED: "activity",
                                EventType.TIMER_CREATED: "timer",
                                EventType.SUB_ORCHESTRATION_CREATED: "suborchestration",
                            }[kind],
                            event.get("Name") or "",
                        )
                    )
            statements.append(
                (
                    "INSERT INTO history (hub, instance_id, seq, event) VALUES (?,?,?,?)",
                    (hub, instance.instance_id, start + offset, json.dumps(event)),
                )
            )
