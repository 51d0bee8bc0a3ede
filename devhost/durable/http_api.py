"""The Durable Functions HTTP API (the shapes the SDK client and Azure's webhooks use)."""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from devhost.trace_context import InvocationTrace

from .clock import parse_time
from .entity_http import entity_routes
from .http_params import (
    CONTINUATION_HEADER,
    BadRequestError,
    error,
    flag_param,
    guard,
    int_param,
    json_text,
    time_param,
)
from .instances import RUNNING_STATUSES, Instance, status_json
from .store import TERMINAL_STATUSES

if TYPE_CHECKING:
    from .engine import DurableEngine

logger = logging.getLogger(__name__)

KNOWN_STATUSES = RUNNING_STATUSES | TERMINAL_STATUSES


REWIND_UNSUPPORTED = (
    "rewind is not supported by devhost's durable engine: a failed instance cannot be rewound "
    "locally. Restart it instead (client.restart or POST .../instances/{id}/restart), which "
    "runs it again from the start with the same input and version."
)


def build_router(engine: DurableEngine) -> Router:
    """Routes relative to the mount point (the RPC base or /runtime/webhooks/durabletask)."""

    def check_hub(request: Request) -> None:
        hub = request.query_params.get("taskHub")
        if hub and hub != engine.task_hub:
            raise BadRequestError(f"unknown task hub '{hub}'; this host serves '{engine.task_hub}'")

    def payload(instance_id: str) -> dict[str, str]:
        # From the published URLs only: a request's Host header must not steer where callers go.
        return engine.published_urls().management(engine.task_hub, instance_id)

    async def start(request: Request) -> Response:
        check_hub(request)
        name = request.path_params["name"]
        instance_id = request.path_params.get("instance_id")
        timeout = int_param(request, "timeout")
        input_text = await json_text(request)
        try:
            # The Durable SDK sends its caller's trace context; the orchestration joins it.
            trace = InvocationTrace.from_headers(request.headers)
            # `start_new(..., version=...)` sends the version as a query parameter.
            version = request.query_params.get("version")
            instance_id = await engine.start_orchestration(
                name, instance_id, input_text, trace, version=version
            )
        except ValueError as exc:
            return error(400, str(exc))
        body = payload(instance_id)
        if timeout:
            instance = await engine.wait_for_terminal(instance_id, float(timeout))
            if instance.is_terminal:
                status = status_json(instance)
                if instance.status == "Completed":
                    return JSONResponse(status["output"], status_code=200)
                return JSONResponse(status, status_code=200)
        return JSONResponse(
            body,
            status_code=202,
            headers={"Location": body["statusQueryGetUri"], "Retry-After": "10"},
        )

    async def get_status(request: Request) -> Response:
        check_hub(request)
        instance = engine.instances.get(request.path_params["instance_id"])
        if instance is None:
            return error(404, f"No instance with ID '{request.path_params['instance_id']}' found.")
        history = None
        if flag_param(request, "showHistory", False):
            history = await engine.instance_history(instance)
        body = status_json(
            instance,
            show_input=flag_param(request, "showInput", True),
            history=history,
            show_history_output=flag_param(request, "showHistoryOutput", False),
        )
        code = 202 if instance.status in RUNNING_STATUSES else 200
        headers = {}
        if code == 202:
            headers["Location"] = payload(instance.instance_id)["statusQueryGetUri"]
        return JSONResponse(body, status_code=code, headers=headers)

    def select(request: Request) -> list[Instance]:
        created_from = time_param(request, "createdTimeFrom")
        created_to = time_param(request, "createdTimeTo")
        prefix = request.query_params.get("instanceIdPrefix") or ""
        statuses: set[str] | None = None
        if request.query_params.get("runtimeStatus"):
            statuses = {s.strip() for s in request.query_params["runtimeStatus"].split(",")}
            unknown = statuses - KNOWN_STATUSES
            if unknown:
                raise BadRequestError(
                    f"unknown runtimeStatus value(s): {', '.join(sorted(unknown))}"
                )
        chosen = []
        for instance in engine.instances.values():
            created = parse_time(instance.created_time)
            if created_from and created < created_from:
                continue
            if created_to and created > created_to:
                continue
            if statuses is not None and instance.status not in statuses:
                continue
            if not instance.instance_id.startswith(prefix):
                continue
            chosen.append(instance)
        chosen.sort(key=lambda i: (i.created_time, i.instance_id))
        return chosen

    async def list_instances(request: Request) -> Response:
        check_hub(request)
        chosen = select(request)
        top = int_param(request, "top")
        offset = 0
        token = request.headers.get(CONTINUATION_HEADER)
        if token:
            try:
                offset = int(base64.urlsafe_b64decode(token.encode()).decode())
            except ValueError as exc:
                raise BadRequestError("malformed continuation token") from exc
        show_input = flag_param(request, "showInput", True)
        page = chosen[offset : offset + top] if top else chosen[offset:]
        headers = {}
        if top and offset + top < len(chosen):
            headers[CONTINUATION_HEADER] = base64.urlsafe_b64encode(
                str(offset + top).encode()
            ).decode()
        body = [status_json(i, show_input=show_input) for i in page]
        return JSONResponse(body, status_code=200, headers=headers)

    async def purge_one(request: Request) -> Response:
        check_hub(request)
        deleted = await engine.purge([request.path_params["instance_id"]])
        if not deleted:
            return error(404, f"No instance with ID '{request.path_params['instance_id']}' found.")
        return JSONResponse({"instancesDeleted": deleted}, status_code=200)

    async def purge_many(request: Request) -> Response:
        check_hub(request)
        if not request.query_params.get("createdTimeFrom"):
            raise BadRequestError("purging by filter needs createdTimeFrom")
        chosen = select(request)
        if not request.query_params.get("runtimeStatus"):
            chosen = [i for i in chosen if i.is_terminal]
        deleted = await engine.purge([i.instance_id for i in chosen])
        if not deleted:
            return error(404, "No instances matched the purge filter.")
        return JSONResponse({"instancesDeleted": deleted}, status_code=200)

    async def raise_event(request: Request) -> Response:
        check_hub(request)
        data = await json_text(request)
        await engine.raise_event(
            request.path_params["instance_id"], request.path_params["event_name"], data
        )
        return Response(status_code=202)

    def lifecycle(operation: str) -> Any:
        async def handler(request: Request) -> Response:
            check_hub(request)
            method = getattr(engine, operation)
            await method(request.path_params["instance_id"], request.query_params.get("reason"))
            return Response(status_code=202)

        return handler

    async def restart(request: Request) -> Response:
        check_hub(request)
        instance = engine.get_instance(request.path_params["instance_id"])
        new_id = flag_param(request, "restartWithNewInstanceId", True)
        started = await engine.start_orchestration(
            instance.name,
            None if new_id else instance.instance_id,
            instance.input,
            version=instance.version,
        )
        return JSONResponse(started, status_code=202)

    async def rewind(request: Request) -> Response:
        check_hub(request)
        engine.get_instance(request.path_params["instance_id"])  # 404 for an unknown id
        # A JSON string, not an object: the SDK's client.rewind raises it as its message.
        return JSONResponse(REWIND_UNSUPPORTED, status_code=501)

    routes = [
        Route("/orchestrators/{name}", guard(start), methods=["POST"]),
        Route("/orchestrators/{name}/{instance_id}", guard(start), methods=["POST"]),
        Route("/instances", guard(list_instances), methods=["GET"]),
        Route("/instances/", guard(list_instances), methods=["GET"]),
        Route("/instances", guard(purge_many), methods=["DELETE"]),
        Route("/instances/", guard(purge_many), methods=["DELETE"]),
        Route("/instances/{instance_id}", guard(get_status), methods=["GET"]),
        Route("/instances/{instance_id}", guard(purge_one), methods=["DELETE"]),
        Route(
            "/instances/{instance_id}/raiseEvent/{event_name}", guard(raise_event), methods=["POST"]
        ),
        Route(
            "/instances/{instance_id}/terminate", guard(lifecycle("terminate")), methods=["POST"]
        ),
        Route("/instances/{instance_id}/suspend", guard(lifecycle("suspend")), methods=["POST"]),
        Route("/instances/{instance_id}/resume", guard(lifecycle("resume")), methods=["POST"]),
        Route("/instances/{instance_id}/restart", guard(restart), methods=["POST"]),
        Route("/instances/{instance_id}/rewind", guard(rewind), methods=["POST"]),
    ]
    routes += entity_routes(engine, check_hub)
    return Router(routes=routes)
