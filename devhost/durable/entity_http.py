"""The entity half of the Durable Functions HTTP API, with Azure's shapes and status codes.

- `POST /entities/{name}/{key}?op=...`: signal; 202 with no body, 404 for an unknown entity name.
- `GET /entities/{name}/{key}`: 200 with the entity's state as the JSON body, 404 when it does
  not exist (the SDK's `read_entity_state` reads exactly this).
- `GET /entities[/{name}]?fetchState=&top=&lastOperationTimeFrom=&lastOperationTimeTo=`: 200 with
  `[{"entityId": {"name", "key"}, "lastOperationTime", "state"?}]`, paged with the
  `x-ms-continuation-token` header as instance queries are.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .clock import parse_time
from .entities import UnknownEntityError
from .http_params import (
    CONTINUATION_HEADER,
    error,
    flag_param,
    guard,
    int_param,
    json_text,
    time_param,
)

if TYPE_CHECKING:
    from .engine import DurableEngine


def entity_routes(engine: DurableEngine, check_hub: Callable[[Request], None]) -> list[Route]:
    """Routes relative to the Durable API mount, beside http_api's instance routes."""

    async def signal(request: Request) -> Response:
        check_hub(request)
        name = request.path_params["name"]
        key = request.path_params["key"]
        operation = request.query_params.get("op") or ""
        input_text = await json_text(request)
        try:
            await engine.signal_entity(name, key, operation, input_text)
        except UnknownEntityError as exc:
            return error(404, str(exc))
        return Response(status_code=202)

    async def read_state(request: Request) -> Response:
        check_hub(request)
        record = engine.entity_state(request.path_params["name"], request.path_params["key"])
        if record is None:
            return error(
                404,
                f"No entity with ID '@{request.path_params['name'].lower()}"
                f"@{request.path_params['key']}' found.",
            )
        return Response(
            record.state if record.state is not None else "null",
            status_code=200,
            media_type="application/json",
        )

    async def list_entities(request: Request) -> Response:
        check_hub(request)
        name = (request.path_params.get("name") or "").lower()
        fetch_state = flag_param(request, "fetchState", False)
        time_from = time_param(request, "lastOperationTimeFrom")
        time_to = time_param(request, "lastOperationTimeTo")
        chosen = []
        for record in engine.entity_records.values():
            if not record.exists or (name and record.name != name):
                continue
            last = parse_time(record.last_operation_time)
            if time_from is not None and last < time_from:
                continue
            if time_to is not None and last > time_to:
                continue
            chosen.append(record)
        chosen.sort(key=lambda r: (r.name, r.key))
        top = int_param(request, "top")
        offset = 0
        token = request.headers.get(CONTINUATION_HEADER)
        if token:
            try:
                offset = int(base64.urlsafe_b64decode(token.encode()).decode())
            except ValueError:
                return error(400, "malformed continuation token")
        page = chosen[offset : offset + top] if top else chosen[offset:]
        headers = {}
        if top and offset + top < len(chosen):
            headers[CONTINUATION_HEADER] = base64.urlsafe_b64encode(
                str(offset + top).encode()
            ).decode()
        body = []
        for record in page:
            item: dict[str, object] = {
                "entityId": {"name": record.name, "key": record.key},
                "lastOperationTime": record.last_operation_time,
            }
            if fetch_state:
                item["state"] = json.loads(record.state) if record.state is not None else None
            body.append(item)
        return JSONResponse(body, status_code=200, headers=headers)

    return [
        Route("/entities", guard(list_entities), methods=["GET"]),
        Route("/entities/", guard(list_entities), methods=["GET"]),
        Route("/entities/{name}", guard(list_entities), methods=["GET"]),
        Route("/entities/{name}/{key}", guard(read_state), methods=["GET"]),
        Route("/entities/{name}/{key}", guard(signal), methods=["POST"]),
    ]
