"""The ASGI app: HTTP triggers, the admin API and the Durable HTTP API, with Azure's key checks."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import azure.functions as func
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from devhost.auth import AuthLevel, presented_key
from devhost.host import ALL_METHODS, FunctionHost, HttpFunction
from devhost.problems import problem
from devhost.routes import RouteMatch

logger = logging.getLogger(__name__)

# Media types for which a charset parameter means something.
_TEXTUAL = ("text/", "application/json", "application/xml", "application/javascript")


def _caller_key(request: Request) -> str | None:
    return presented_key(request.headers, request.query_params)


def _unauthorized() -> Response:
    return problem(401, "a valid key is required (x-functions-key header or code query parameter)")


class MasterKeyRequired:
    """Guards an ASGI app (the Durable webhooks) with the master (system) key."""

    def __init__(self, app: ASGIApp, host: FunctionHost) -> None:
        self._app = app
        self._host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            if not self._host.keys.is_master(_caller_key(request)):
                await _unauthorized()(scope, receive, send)
                return
        await self._app(scope, receive, send)


def _request_headers(request: Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def to_response(result: Any) -> Response:
    """Convert what an HTTP function returned into a Starlette response."""
    if result is None:
        return Response(status_code=204)
    if isinstance(result, str):
        return PlainTextResponse(result)
    if isinstance(result, bytes | bytearray):
        return Response(bytes(result), media_type="application/octet-stream")
    if not isinstance(result, func.HttpResponse):
        raise TypeError(
            f"an HTTP function must return HttpResponse, str or bytes, not {type(result).__name__}"
        )
    headers = [(k, str(v)) for k, v in result.headers.items()]
    if not any(k.lower() == "content-type" for k, _ in headers):
        content_type = result.mimetype
        if result.mimetype.startswith(_TEXTUAL) and result.charset:
            content_type = f"{content_type}; charset={result.charset}"
        headers.append(("content-type", content_type))
    response = Response(result.get_body(), status_code=result.status_code)
    response.raw_headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in headers
        if k.lower() != "content-length"
    ] + [(b"content-length", str(len(result.get_body())).encode())]
    return response


class FunctionEndpoint:
    """Dispatches every path that is not devhost's own to the app's HTTP triggers."""

    def __init__(self, host: FunctionHost) -> None:
        self._host = host

    async def handle(self, request: Request) -> Response:
        # Match the still-encoded path: route values are decoded once, after matching, so an
        # encoded slash stays inside its segment.
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        resolved = self._host.routes.resolve(raw_path.decode("utf-8", "replace"), request.method)
        if resolved is None:
            return problem(404, f"no function serves {request.url.path}")
        if isinstance(resolved, set):
            ordered = [m for m in ALL_METHODS if m in resolved] + sorted(
                resolved - set(ALL_METHODS)
            )
            allowed = ", ".join(ordered)
            return problem(405, f"{request.method} is not allowed here", headers={"Allow": allowed})
        return await self._invoke(request, resolved)

    async def _invoke(self, request: Request, match: RouteMatch[HttpFunction]) -> Response:
        function = match.target
        if not self._host.keys.authorizes(function.auth_level, _caller_key(request)):
            level = "the master key" if function.auth_level is AuthLevel.ADMIN else "a key"
            return problem(401, f"function {function.info.name!r} requires {level}")
        http_request = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=_request_headers(request),
            params=dict(request.query_params),
            route_params=dict(match.route_params),
            body=await request.body(),
        )
        context = self._host.invoker.new_context(function.info)
        started = time.perf_counter()
        try:
            result = await self._host.invoker.call(function.info, http_request, context)
            response = to_response(result)
        except Exception:
            logger.exception(
                "Executed '%s' (Failed, id=%s)", function.info.name, context.invocation_id
            )
            return problem(
                500,
                f"function {function.info.name!r} failed; see the host log",
                invocationId=context.invocation_id,
            )
        logger.debug(
            "Executed '%s' (%s, id=%s, duration=%dms)",
            function.info.name,
            response.status_code,
            context.invocation_id,
            (time.perf_counter() - started) * 1000,
        )
        return response


def _admin(
    host: FunctionHost, handler: Callable[[Request], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    async def guarded(request: Request) -> Response:
        if not host.keys.is_master(_caller_key(request)):
            return _unauthorized()
        return await handler(request)

    return guarded


def build_app(host: FunctionHost) -> Starlette:
    background: set[asyncio.Task[None]] = set()

    async def home(_: Request) -> Response:
        return PlainTextResponse("devhost is running\n")

    async def host_status(_: Request) -> Response:
        return JSONResponse(host.status())

    async def invoke_function(request: Request) -> Response:
        name = request.path_params["name"]
        info = host.app.functions.get(name.lower())
        if info is None:
            return problem(404, f"no function named {name!r}")
        body = await request.body()
        if body.strip():
            try:
                document = json.loads(body)
            except json.JSONDecodeError as error:
                return problem(400, f'body must be JSON like {{"input": ...}}: {error}')
            if not isinstance(document, dict):
                return problem(400, 'body must be a JSON object like {"input": ...}')
        timer = host.timer(name)
        if timer is None:
            return problem(
                400,
                f"function {info.name!r} has a {info.trigger_type} trigger; only timer "
                "functions are invoked through this endpoint",
            )
        # Core Tools answers 202 at once and runs the function in the background.
        task = asyncio.create_task(host.invoke_timer(timer, past_due=False))
        background.add(task)
        task.add_done_callback(background.discard)
        return Response(status_code=202)

    routes: list[BaseRoute] = [
        Route("/", home, methods=["GET", "HEAD"]),
        Route("/admin/host/status", _admin(host, host_status), methods=["GET"]),
        Route("/admin/functions/{name}", _admin(host, invoke_function), methods=["POST"]),
    ]
    if host.engine is not None:
        durable_router = host.engine.router()
        # The SDK's client talks to rpcBaseUrl without keys (Azure serves it on loopback only);
        # the public webhooks need the system key, as in Azure.
        routes.append(Mount("/durabletask", app=durable_router))
        routes.append(
            Mount("/runtime/webhooks/durabletask", app=MasterKeyRequired(durable_router, host))
        )
    routes.append(Route("/{path:path}", FunctionEndpoint(host).handle, methods=list(ALL_METHODS)))

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await host.start()
        try:
            yield
        finally:
            for task in list(background):
                task.cancel()
            await host.stop()

    return Starlette(routes=routes, lifespan=lifespan)
