"""Orchestration versioning as an app uses it: a version-aware orchestrator that waits for an
event (so that the host can be restarted with another defaultVersion in between), and a child
that reports the version it was given."""

import atexit
import sys

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.utils import http_utils

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

SESSION_LEFT_OPEN = "durable client session left open at exit"


@atexit.register
def _report_open_session() -> None:
    # The SDK keeps one aiohttp session per process; the host must close it when it stops.
    session = http_utils._client_session
    if session is not None and not session.closed:
        print(SESSION_LEFT_OPEN, file=sys.stderr, flush=True)


@app.route(route="orchestrators/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    version = req.params.get("version")
    instance_id = await client.start_new(req.route_params["name"], version=version)
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def checkout(context: df.DurableOrchestrationContext):
    # Instances keep the version they were created with, so old ones keep the old path.
    if context.version == "1.0":
        charged = yield context.call_activity(charge_card, "order")
    else:
        charged = yield context.call_activity(charge_wallet, "order")
    context.set_custom_status("waiting for Continue")
    yield context.wait_for_external_event("Continue")
    pinned = yield context.call_sub_orchestrator("version_of", version="0.9")
    default = yield context.call_sub_orchestrator("version_of")
    return {"version": context.version, "charged": charged, "pinned": pinned, "default": default}


@app.orchestration_trigger(context_name="context")
def version_of(context: df.DurableOrchestrationContext):
    return context.version


@app.activity_trigger(input_name="order")
def charge_card(order: str) -> str:
    return f"{order} charged to card"


@app.activity_trigger(input_name="order")
def charge_wallet(order: str) -> str:
    return f"{order} charged to wallet"
