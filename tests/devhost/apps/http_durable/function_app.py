"""A Durable app: an HTTP starter with the durable client binding, an orchestrator, an activity."""

import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="orchestrators/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"], client_input=req.get_json())
    return client.create_check_status_response(req, instance_id)


@app.route(route="instances/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def http_status(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    status = await client.get_status(req.route_params["instance_id"])
    body = {
        "runtimeStatus": status.runtime_status.value if status.runtime_status else None,
        "output": status.output,
    }
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="payload/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def http_payload(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    payload = client.create_http_management_payload(req.route_params["instance_id"])
    return func.HttpResponse(json.dumps(payload), mimetype="application/json")


@app.route(route="rpc-base", methods=["GET"])
@app.durable_client_input(client_name="client")
async def http_rpc_base(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    # Tests only: shows where the SDK's client is told to call.
    return func.HttpResponse(client._orchestration_bindings.rpc_base_url)


@app.orchestration_trigger(context_name="context")
def greet_all(context: df.DurableOrchestrationContext):
    names = context.get_input()["names"]
    greetings = yield context.task_all([context.call_activity(greet, n) for n in names])
    return greetings


@app.activity_trigger(input_name="name")
def greet(name: str) -> str:
    return f"hello {name}"


@app.timer_trigger(schedule="0 0 3 * * *", arg_name="timer")
@app.durable_client_input(client_name="client")
async def nightly_greeting(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    await client.start_new("greet_all", instance_id="nightly", client_input={"names": ["night"]})
