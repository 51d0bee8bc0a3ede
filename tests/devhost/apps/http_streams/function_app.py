"""An app in HTTP streams mode: it imports the FastAPI extension, so every HTTP trigger takes a
FastAPI request and returns FastAPI types (or JSON-encodable values), as in Azure."""

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response, StreamingResponse

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _mark(name: str, text: str) -> None:
    """Leave a note for the test in the folder it names (MARKER_DIR)."""
    Path(os.environ["MARKER_DIR"], name).write_text(text, encoding="utf-8")


@app.route(route="stream", methods=["GET"])
async def stream(req: Request) -> StreamingResponse:
    chunks = int(req.query_params.get("chunks", "3"))
    wait = float(req.query_params.get("wait", "0.3"))
    tag = req.query_params.get("tag", "stream")

    async def produce() -> AsyncIterator[str]:
        sent = 0
        try:
            for n in range(chunks):
                if n:
                    await asyncio.sleep(wait)
                yield f"chunk {n}\n"
                sent += 1
            _mark(tag, f"finished {sent}")
        except asyncio.CancelledError:
            _mark(tag, f"cancelled {sent}")
            raise

    return StreamingResponse(produce(), media_type="text/plain")


@app.route(route="things/{kind}/{n:int}", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
async def things(req: Request) -> dict:
    document = await req.json()
    return {
        "kind": req.path_params["kind"],
        "n": req.path_params["n"],
        "query": dict(req.query_params),
        "body": document,
        "method": req.method,
        "path": req.url.path,
    }


@app.route(route="raw", methods=["POST"])
async def raw(req: Request) -> Response:
    _mark(f"raw-{req.query_params.get('tag', 'raw')}", "invoked")
    received = b"".join([chunk async for chunk in req.stream()])
    return Response(received, media_type="application/octet-stream", status_code=201)


@app.route(route="sync/{word}", methods=["GET"])
def sync(req: Request) -> str:
    return req.path_params["word"].upper()


@app.route(route="classic", methods=["GET"])
def classic(req: Request):  # return unannotated: the load check cannot refuse it
    return func.HttpResponse("a classic response", status_code=200)


@app.route(route="fails", methods=["GET"])
async def fails(req: Request) -> dict:
    raise RuntimeError("the function broke")


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: Request, client: df.DurableOrchestrationClient) -> dict:
    instance_id = await client.start_new(req.path_params["name"], client_input=await req.json())
    return {"id": instance_id}


@app.route(route="instances/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def status(req: Request, client: df.DurableOrchestrationClient) -> dict:
    found = await client.get_status(req.path_params["instance_id"])
    runtime = found.runtime_status.value if found.runtime_status else None
    return {"runtimeStatus": runtime, "output": found.output}


@app.orchestration_trigger(context_name="context")
def echo(context: df.DurableOrchestrationContext):
    return {"echoed": context.get_input()}
    yield  # makes this a generator, as orchestrators are
