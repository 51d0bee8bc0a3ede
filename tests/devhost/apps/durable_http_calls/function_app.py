"""Durable HTTP (`context.call_http`): plain calls, the 202 polling pattern, and what fails."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def fetch(context: df.DurableOrchestrationContext):
    request = context.get_input()
    started = context.current_utc_datetime
    response = yield context.call_http(
        request["method"],
        request["url"],
        content=request.get("content"),
        headers=request.get("headers"),
    )
    waited = (context.current_utc_datetime - started).total_seconds()
    return {"response": response, "waited": waited}


@app.orchestration_trigger(context_name="context")
def fetch_with_identity(context: df.DurableOrchestrationContext):
    token = df.ManagedIdentityTokenSource("https://management.core.windows.net/")
    try:
        yield context.call_http("GET", context.get_input(), token_source=token)
    except Exception as error:
        return f"caught: {error}"
    return "no error"
