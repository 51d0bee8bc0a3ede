"""Durable entities as the Durable Functions Python docs write them: a counter entity, signalled
and called from orchestrators, signalled and read from HTTP functions through the SDK's client."""

import json
import os
import time
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.entity_trigger(context_name="context")
def Counter(context: df.DurableEntityContext) -> None:
    current = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        current += context.get_input()
        context.set_state(current)
    elif operation == "reset":
        context.set_state(0)
    elif operation == "get":
        context.set_result(current)
    elif operation == "delete":
        context.destruct_on_exit()
    elif operation == "fail":
        raise ValueError(f"counter {context.entity_key} refuses")


@app.entity_trigger(context_name="context", entity_name="ledger")
def ledger_entity(context: df.DurableEntityContext) -> None:
    """A dict state: the entry names each operation wrote, in order."""
    state = context.get_state(dict)
    entries = state.setdefault("entries", [])
    entries.append(context.get_input())
    context.set_state(state)
    context.set_result(len(entries))


@app.entity_trigger(context_name="context")
def slow_counter(context: df.DurableEntityContext) -> None:
    """Adds like Counter, but logs each run to a marker folder and holds until released, so that
    a test can kill the host while a batch is half done."""
    markers = Path(os.environ["ENTITY_MARKER_DIR"])
    with (markers / "runs.log").open("a") as log:
        log.write(f"{context.get_input()} in pid {os.getpid()}\n")
    while not (markers / "release").exists():
        time.sleep(0.02)
    context.set_state(context.get_state(lambda: 0) + context.get_input())


@app.orchestration_trigger(context_name="context")
def count_with_entity(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    entity = df.EntityId("Counter", spec["key"])
    for _ in range(spec["signals"]):
        context.signal_entity(entity, "add", 1)
    total = yield context.call_entity(entity, "get")
    both = yield context.task_all(
        [
            context.call_entity(entity, "get"),
            context.call_entity(df.EntityId("ledger", "x"), "add", "o"),
        ]
    )
    return {"total": total, "both": both}


@app.orchestration_trigger(context_name="context")
def signal_many(context: df.DurableOrchestrationContext):
    """`signals` signals of add 1 over `keys` counters named by `prefix` (bench/entities)."""
    spec = context.get_input()
    for index in range(spec["signals"]):
        context.signal_entity(
            df.EntityId("Counter", f"{spec['prefix']}{index % spec['keys']}"), "add", 1
        )
    return spec["signals"]


# Changed by a test between two episodes, to make the replay send somewhere else.
SIGNAL_TARGET = {"key": "first"}


@app.orchestration_trigger(context_name="context")
def signal_then_wait(context: df.DurableOrchestrationContext):
    context.signal_entity(df.EntityId("Counter", SIGNAL_TARGET["key"]), "add", 1)
    yield context.wait_for_external_event("go")
    return "done"


@app.orchestration_trigger(context_name="context")
def call_failing(context: df.DurableOrchestrationContext):
    try:
        yield context.call_entity(df.EntityId("Counter", context.get_input()), "fail")
    except Exception as error:
        return f"caught: {error}"
    return "not caught"


@app.orchestration_trigger(context_name="context")
def signal_and_finish(context: df.DurableOrchestrationContext):
    context.signal_entity(df.EntityId("Counter", context.get_input()), "add", 5)
    return "sent"


@app.orchestration_trigger(context_name="context")
def critical_section(context: df.DurableOrchestrationContext):
    entity = df.EntityId("Counter", context.get_input())
    with (yield context.lock([entity])):
        value = yield context.call_entity(entity, "get")
        context.signal_entity(entity, "add", value)
    return value


@app.route(route="counters/{key}/{op}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def signal_counter(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    body = req.get_body()
    value = req.get_json() if body else None
    entity = df.EntityId("Counter", req.route_params["key"])
    await client.signal_entity(entity, req.route_params["op"], value)
    return func.HttpResponse(status_code=202)


@app.route(route="counters/{key}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def read_counter(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    state = await client.read_entity_state(df.EntityId("Counter", req.route_params["key"]))
    body = {"exists": state.entity_exists, "state": state.entity_state}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
