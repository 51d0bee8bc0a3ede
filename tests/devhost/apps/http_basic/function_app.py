"""HTTP and timer functions that exercise devhost's host: routes, auth levels, sync and async."""

import asyncio
import json
import os
import threading
from pathlib import Path

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _json(document: object, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(document), status_code=status, mimetype="application/json")


@app.route(route="echo/{id:int}/{tail?}", methods=["GET", "POST", "PUT"])
def echo(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return _json(
        {
            "method": req.method,
            "url": req.url,
            "route_params": dict(req.route_params),
            "params": dict(req.params),
            "headers": {k: v for k, v in req.headers.items() if k.startswith("x-")},
            "body": req.get_body().decode(),
            "thread": threading.current_thread().name,
            "function_name": context.function_name,
            "invocation_id": context.invocation_id,
            "trace_parent": context.trace_context.trace_parent,
            "trace_state": context.trace_context.trace_state,
        }
    )


@app.route(route="items/special", methods=["GET"])
def special_item(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("special")


@app.route(route="items/{name}", methods=["GET"])
def item(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"item {req.route_params['name']}")


@app.route(route="async-hello")
async def async_hello(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0)
    return _json(
        {"hello": req.params.get("name", "world"), "thread": threading.current_thread().name}
    )


@app.function_name("DefaultRoute")
@app.route(methods=["GET"])
def default_route(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        b"\x00\x01binary", mimetype="application/octet-stream", headers={"X-Custom": "yes"}
    )


@app.route(route="created", methods=["POST"])
def created(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("made", status_code=201, headers={"Location": "/api/created/1"})


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("secret detail that must not reach the caller")


@app.route(route="keyed", auth_level=func.AuthLevel.FUNCTION)
def keyed(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("function level ok")


@app.route(route="admin-only", auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("admin level ok")


@app.route(route="settings/{name}", methods=["GET"])
def setting(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params["name"]
    return _json({"name": name, "value": os.environ.get(name)})


def _record(kind: str, timer: func.TimerRequest) -> None:
    # The tests read what the timers did from this file.
    marker = Path(os.environ["TIMER_MARKER_DIR"]) / f"{kind}.jsonl"
    with marker.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"past_due": timer.past_due}) + "\n")


@app.timer_trigger(schedule="%EVERY_SECOND%", arg_name="timer")
def every_second(timer: func.TimerRequest) -> None:
    _record("every_second", timer)


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer")
async def yearly(timer: func.TimerRequest, context: func.Context) -> None:
    _record("yearly", timer)


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer")
def failing_timer(timer: func.TimerRequest) -> None:
    raise ValueError("timer failure is logged, not fatal")


@app.route(route="with-blob", methods=["GET"])
@app.blob_input(arg_name="blob", path="container/item.txt", connection="AzureWebJobsStorage")
def with_blob(req: func.HttpRequest, blob: func.InputStream) -> func.HttpResponse:
    return func.HttpResponse(blob.read())


@app.queue_trigger(arg_name="message", queue_name="work", connection="AzureWebJobsStorage")
def from_queue(message: func.QueueMessage) -> None:
    pass


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
def at_startup(timer: func.TimerRequest) -> None:
    _record("at_startup", timer)
