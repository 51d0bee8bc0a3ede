"""Fan-out/fan-in of no-op activities, for bench/fanout.py."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="fanout/{count:int}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start_fanout(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    kind = req.params.get("kind", "sync")
    instance_id = await client.start_new(
        "fan_out_fan_in", client_input={"count": int(req.route_params["count"]), "kind": kind}
    )
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def fan_out_fan_in(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    activity = noop_async if spec["kind"] == "async" else noop
    results = yield context.task_all(
        [context.call_activity(activity, i) for i in range(spec["count"])]
    )
    return len(results)


@app.activity_trigger(input_name="value")
def noop(value: int) -> int:
    return value


@app.activity_trigger(input_name="value")
async def noop_async(value: int) -> int:
    return value
