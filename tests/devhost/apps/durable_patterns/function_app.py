"""Durable patterns used by the engine tests: chaining, fan-out, retries, timers, events,
sub-orchestrations, continue-as-new and custom status."""

import asyncio
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

# Attempts per key, so that a flaky activity fails a set number of times and then succeeds.
ATTEMPTS: dict[str, int] = {}


@app.route(route="orchestrators/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    body = req.get_body()
    payload = req.get_json() if body else None
    instance_id = await client.start_new(req.route_params["name"], client_input=payload)
    return client.create_check_status_response(req, instance_id)


@app.activity_trigger(input_name="name")
def say_hello(name: str) -> str:
    return f"Hello {name}"


@app.activity_trigger(input_name="name")
async def say_hello_async(name: str) -> str:
    await asyncio.sleep(0)
    return f"Hi {name}"


@app.activity_trigger(input_name="unused")
async def trace_of(unused: str, context: func.Context) -> dict:
    return {
        "trace_parent": context.trace_context.trace_parent,
        "trace_state": context.trace_context.trace_state,
    }


@app.orchestration_trigger(context_name="context")
def traced(context: df.DurableOrchestrationContext):
    own = yield context.call_activity(trace_of, "")
    children = yield context.call_sub_orchestrator("traced_child", None)
    return {"own": own, "child": children}


@app.orchestration_trigger(context_name="context")
def traced_child(context: df.DurableOrchestrationContext):
    return (yield context.call_activity(trace_of, ""))


@app.activity_trigger(input_name="value")
def square(value: int) -> int:
    return value * value


@app.activity_trigger(input_name="request")
def flaky(request: dict) -> str:
    key = request["key"]
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] <= request["failures"]:
        raise RuntimeError(f"attempt {ATTEMPTS[key]} of {key} failed")
    return f"{key} ok after {ATTEMPTS[key]} attempts"


@app.activity_trigger(input_name="unused")
def attempts(unused: str) -> dict:
    return dict(ATTEMPTS)


@app.orchestration_trigger(context_name="context")
def chaining(context: df.DurableOrchestrationContext):
    first = yield context.call_activity(say_hello, "Tokyo")
    context.set_custom_status({"step": 1})
    second = yield context.call_activity(say_hello_async, "Seattle")
    context.set_custom_status({"step": 2})
    third = yield context.call_activity("say_hello", "London")
    return [first, second, third]


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    count = context.get_input()
    results = yield context.task_all([context.call_activity(square, i) for i in range(count)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def with_retry(context: df.DurableOrchestrationContext):
    request = context.get_input()
    options = df.RetryOptions(first_retry_interval_in_milliseconds=60_000, max_number_of_attempts=3)
    result = yield context.call_activity_with_retry(flaky, options, request)
    return result


@app.orchestration_trigger(context_name="context")
def catch_exhausted(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=2)
    try:
        yield context.call_activity_with_retry(flaky, options, context.get_input())
    except Exception as error:
        return f"caught: {error}"
    return "not reached"


@app.orchestration_trigger(context_name="context")
def long_timer(context: df.DurableOrchestrationContext):
    started = context.current_utc_datetime
    yield context.create_timer(started + timedelta(hours=6))
    ended = context.current_utc_datetime
    return (ended - started).total_seconds()


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    context.set_custom_status("waiting")
    first = yield context.wait_for_external_event("Approval")
    second = yield context.wait_for_external_event("Comment")
    return {"approval": first, "comment": second}


@app.orchestration_trigger(context_name="context")
def race(context: df.DurableOrchestrationContext):
    deadline = context.current_utc_datetime + timedelta(days=1)
    timer = context.create_timer(deadline)
    event = context.wait_for_external_event("Answer")
    winner = yield context.task_any([event, timer])
    if winner == event:
        timer.cancel()
        return {"winner": "event", "value": event.result}
    return {"winner": "timer"}


@app.orchestration_trigger(context_name="context")
def child(context: df.DurableOrchestrationContext):
    value = context.get_input()
    doubled = yield context.call_activity(square, value)
    return {"child": context.instance_id, "parent": context.parent_instance_id, "square": doubled}


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    results = yield context.task_all(
        [context.call_sub_orchestrator("child", n) for n in context.get_input()]
    )
    return results


@app.orchestration_trigger(context_name="context")
def flaky_child(context: df.DurableOrchestrationContext):
    result = yield context.call_activity(flaky, context.get_input())
    return result


@app.orchestration_trigger(context_name="context")
def parent_with_retry(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=5_000, max_number_of_attempts=3)
    result = yield context.call_sub_orchestrator_with_retry(
        "flaky_child", options, context.get_input()
    )
    return result


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    state = context.get_input()
    if state["count"] >= state["until"]:
        return state
    yield context.call_activity(square, state["count"])
    state["count"] += 1
    state["generations"] = state.get("generations", 0) + 1
    context.continue_as_new(state)
    return None


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    yield context.call_activity(say_hello, "x")
    raise ValueError("the orchestrator gave up")
