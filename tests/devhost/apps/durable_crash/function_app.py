"""Slow activities that record each start in a marker folder, for the SIGKILL restart test."""

import os
import time
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="start", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new("slow_fan_out", client_input=req.get_json())
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def slow_fan_out(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    first = yield context.call_activity(quick, "before")
    results = yield context.task_all(
        [
            context.call_activity(slow, {"index": i, "seconds": spec["seconds"]})
            for i in range(spec["count"])
        ]
    )
    return [first, *results]


@app.activity_trigger(input_name="tag")
def quick(tag: str) -> str:
    return tag


@app.activity_trigger(input_name="spec")
def slow(spec: dict) -> int:
    markers = Path(os.environ["CRASH_MARKER_DIR"])
    with (markers / f"slow-{spec['index']}.log").open("a") as log:
        log.write(f"started in pid {os.getpid()}\n")
    # Held until the test releases it, so that none can finish before the kill however slow
    # the machine; then as slow as asked.
    while not (markers / "release").exists():
        time.sleep(0.02)
    time.sleep(spec["seconds"])
    return spec["index"]
