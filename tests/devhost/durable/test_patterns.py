"""Each Durable pattern through the SDK's own client against the engine over loopback HTTP."""

from __future__ import annotations

import time

import pytest
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from .conftest import wait_for_status

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def patterns(serve_engine):
    return await serve_engine("durable_patterns")


async def test_chaining_runs_sync_and_async_activities_in_order(patterns):
    instance_id = await patterns.client.start_new("chaining")
    status = await wait_for_status(patterns.client, instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Completed
    assert status.output == ["Hello Tokyo", "Hi Seattle", "Hello London"]
    assert status.custom_status == {"step": 2}
    assert status.name == "chaining"
    assert status.instance_id == instance_id


async def test_fan_out_fan_in_delivers_completions_in_batches(patterns):
    instance_id = await patterns.client.start_new("fan_out", client_input=200)
    status = await wait_for_status(patterns.client, instance_id)
    assert status.output == sum(i * i for i in range(200))
    history = patterns.engine.instances[instance_id].history
    episodes = sum(1 for event in history if event["EventType"] == 12)  # OrchestratorStarted
    assert episodes < 100, f"{episodes} replays for 200 activities: completions were not batched"


async def test_retry_succeeds_after_failures_without_waiting_for_back_off(patterns):
    started = time.monotonic()
    instance_id = await patterns.client.start_new(
        "with_retry", client_input={"key": "ok", "failures": 2}
    )
    status = await wait_for_status(patterns.client, instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Completed
    assert status.output == "ok ok after 3 attempts"
    assert time.monotonic() - started < 5  # two one-minute back-offs were skipped
    assert patterns.module.ATTEMPTS["ok"] == 3


async def test_retry_exhausted_fails_the_orchestration_with_the_last_error(patterns):
    instance_id = await patterns.client.start_new(
        "with_retry", client_input={"key": "bad", "failures": 10}
    )
    status = await wait_for_status(patterns.client, instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Failed
    assert status.output.startswith("Orchestrator function 'with_retry' failed: ")
    assert (
        "Activity function 'flaky' failed: RuntimeError: attempt 3 of bad failed" in status.output
    )
    assert patterns.module.ATTEMPTS["bad"] == 3


async def test_exhausted_retry_can_be_caught_by_the_orchestrator(patterns):
    instance_id = await patterns.client.start_new(
        "catch_exhausted", client_input={"key": "caught", "failures": 10}
    )
    status = await wait_for_status(patterns.client, instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Completed
    assert status.output.startswith("caught: Activity function 'flaky' failed: RuntimeError: ")
    assert patterns.module.ATTEMPTS["caught"] == 2


async def test_durable_timer_follows_the_skipped_engine_clock(patterns):
    started = time.monotonic()
    instance_id = await patterns.client.start_new("long_timer")
    status = await wait_for_status(patterns.client, instance_id)
    assert 6 * 3600 <= status.output < 6 * 3600 + 60  # current_utc_datetime moved six hours
    assert time.monotonic() - started < 5


async def test_external_events_are_delivered_in_order_with_their_payloads(patterns):
    instance_id = await patterns.client.start_new("approval")
    await patterns.client.raise_event(instance_id, "Approval", {"approved": True, "by": "ops"})
    await patterns.client.raise_event(instance_id, "Comment", "looks good")
    status = await wait_for_status(patterns.client, instance_id)
    assert status.output == {"approval": {"approved": True, "by": "ops"}, "comment": "looks good"}
    assert status.custom_status == "waiting"


async def test_task_any_event_beats_timer(patterns):
    instance_id = await patterns.client.start_new("race")
    await patterns.client.raise_event(instance_id, "Answer", 42)
    status = await wait_for_status(patterns.client, instance_id)
    assert status.output == {"winner": "event", "value": 42}


async def test_task_any_timer_beats_missing_event(patterns):
    started = time.monotonic()
    instance_id = await patterns.client.start_new("race")
    status = await wait_for_status(patterns.client, instance_id)
    assert status.output == {"winner": "timer"}
    assert time.monotonic() - started < 5  # a one-day timer


async def test_sub_orchestrations_report_to_their_parent(patterns):
    instance_id = await patterns.client.start_new("parent", client_input=[2, 3])
    status = await wait_for_status(patterns.client, instance_id)
    assert status.output == [
        {"child": f"{instance_id}:0", "parent": instance_id, "square": 4},
        {"child": f"{instance_id}:1", "parent": instance_id, "square": 9},
    ]
    child = await patterns.client.get_status(f"{instance_id}:0")
    assert child.runtime_status == OrchestrationRuntimeStatus.Completed


async def test_sub_orchestration_with_retry_starts_a_new_child_after_a_failure(patterns):
    instance_id = await patterns.client.start_new(
        "parent_with_retry", client_input={"key": "child", "failures": 1}
    )
    status = await wait_for_status(patterns.client, instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Completed
    assert status.output == "child ok after 2 attempts"
    children = await patterns.client.get_status_by(instance_id_prefix=f"{instance_id}:")
    assert sorted(c.runtime_status.value for c in children) == ["Completed", "Failed"]


async def test_continue_as_new_starts_a_fresh_generation(patterns):
    instance_id = await patterns.client.start_new("counter", client_input={"count": 0, "until": 3})
    status = await wait_for_status(patterns.client, instance_id)
    assert status.output == {"count": 3, "until": 3, "generations": 3}
    final = await patterns.client.get_status(instance_id, show_history=True)
    kinds = [event["EventType"] for event in final.historyEvents]
    # Only the last generation's history remains: it scheduled no activity.
    assert "TaskScheduled" not in kinds
    assert kinds[:2] == ["OrchestratorStarted", "ExecutionStarted"]


async def test_orchestrator_exception_fails_the_instance(patterns):
    instance_id = await patterns.client.start_new("failing")
    status = await wait_for_status(patterns.client, instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Failed
    assert status.output == "Orchestrator function 'failing' failed: the orchestrator gave up"


async def test_terminate_stops_a_waiting_instance(patterns):
    instance_id = await patterns.client.start_new("approval")
    await wait_for_status(patterns.client, instance_id, "Running")
    await patterns.client.terminate(instance_id, "no longer needed")
    status = await wait_for_status(patterns.client, instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Terminated
    assert status.output == "no longer needed"
    with pytest.raises(Exception, match="is gone"):
        await patterns.client.raise_event(instance_id, "Approval", True)


async def test_purge_removes_one_instance_and_by_filter(patterns):
    first = await patterns.client.start_new("chaining")
    second = await patterns.client.start_new("chaining")
    await wait_for_status(patterns.client, first)
    await wait_for_status(patterns.client, second)
    result = await patterns.client.purge_instance_history(first)
    assert result.instances_deleted == 1
    assert not await patterns.client.get_status(first)
    again = await patterns.client.purge_instance_history(first)
    assert again.instances_deleted == 0
    from datetime import UTC, datetime, timedelta

    by_filter = await patterns.client.purge_instance_history_by(
        created_time_from=datetime.now(UTC) - timedelta(hours=1),
        runtime_status=[OrchestrationRuntimeStatus.Completed],
    )
    assert by_filter.instances_deleted == 1
    assert await patterns.client.get_status_all() == []


async def test_status_queries_filter_by_status(patterns):
    done = await patterns.client.start_new("chaining")
    waiting = await patterns.client.start_new("approval")
    await wait_for_status(patterns.client, done)
    await wait_for_status(patterns.client, waiting, "Running")
    running = await patterns.client.get_status_by(
        runtime_status=[OrchestrationRuntimeStatus.Running]
    )
    assert [s.instance_id for s in running] == [waiting]
    assert {s.instance_id for s in await patterns.client.get_status_all()} == {done, waiting}


async def test_unknown_orchestrator_is_rejected_by_start(patterns):
    with pytest.raises(Exception, match="'nope' doesn't exist"):
        await patterns.client.start_new("nope")
    assert await patterns.client.get_status_all() == []


async def test_suspend_holds_events_until_resume(patterns):
    instance_id = await patterns.client.start_new("approval")
    await wait_for_status(patterns.client, instance_id, "Running")
    await patterns.client.suspend(instance_id, "maintenance")
    await wait_for_status(patterns.client, instance_id, "Suspended")
    await patterns.client.raise_event(instance_id, "Approval", 1)
    await patterns.client.raise_event(instance_id, "Comment", 2)
    status = await patterns.client.get_status(instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Suspended
    await patterns.client.resume(instance_id, "done")
    status = await wait_for_status(patterns.client, instance_id)
    assert status.output == {"approval": 1, "comment": 2}


async def test_activities_run_in_the_trace_of_whoever_started_the_orchestration(patterns):
    from opentelemetry import context, trace

    caller = trace.SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=trace.TraceFlags(1),
    )
    # The SDK's client sends the current context as traceparent, as it does in Azure.
    token = context.attach(trace.set_span_in_context(trace.NonRecordingSpan(caller)))
    try:
        instance_id = await patterns.client.start_new("traced")
    finally:
        context.detach(token)
    status = await wait_for_status(patterns.client, instance_id)
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert status.output == {
        "own": {"trace_parent": parent, "trace_state": ""},
        "child": {"trace_parent": parent, "trace_state": ""},
    }  # a sub-orchestration stays in the trace

    # Started outside any trace: a trace of its own, not the earlier caller's.
    other = await patterns.client.start_new("traced")
    output = (await wait_for_status(patterns.client, other)).output
    assert output["own"]["trace_parent"].split("-")[1] != parent.split("-")[1]
