"""Durable functions that declare bindings devhost does not supply."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def reads_a_blob(context: df.DurableOrchestrationContext):
    try:
        return (yield context.call_activity("blob_reader", "report.txt"))
    except Exception as error:
        return f"caught: {error}"


@app.activity_trigger(input_name="name")
@app.blob_input(arg_name="blob", path="reports/{name}", connection="AzureWebJobsStorage")
def blob_reader(name: str, blob: func.InputStream) -> str:
    return blob.read().decode()


@app.queue_output(arg_name="$return", queue_name="done", connection="AzureWebJobsStorage")
@app.orchestration_trigger(context_name="context")
def returns_to_a_queue(context: df.DurableOrchestrationContext):
    return "sent"


@app.orchestration_trigger(context_name="context")
def starts_from_an_activity(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("start_another", None))


@app.activity_trigger(input_name="unused")
@app.durable_client_input(client_name="client")
async def start_another(unused: None, client: df.DurableOrchestrationClient) -> str:
    return await client.start_new("reads_a_blob")
