"""The ASGI app: HTTP triggers, the admin API and the Durable HTTP API, with Azure's key checks."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import azure.functions as func
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from devhost.auth import AuthLevel, presented_key
from devhost.durable.binding import RPC_PATH, WEBHOOK_PATH
from devhost.host import ALL_METHODS, FunctionHost, HttpFunction
from devhost.http_streams import function_request, function_response
from devhost.metrics_view import MetricTotals, view
from devhost.problems import problem
from devhost.routes import RouteMatch
from devhost.trace_context import InvocationTrace

logger = logging.getLogger(__name__)

# Media types for which a charset parameter means something.
_TEXTUAL = ("text/", "application/json", "application/xml", "application/javascript")


def _caller_key(request: Request) -> str | None:
    return presented_key(request.headers, request.query_params)


def _unauthorized() -> Response:
    return problem(401, "a valid key is required (x-functions-key header or code query parameter)")


class DurableKeyRequired:
    """Guards the public Durable webhooks: the system key or the master key, as in Azure."""

    def __init__(self, app: ASGIApp, host: FunctionHost) -> None:
        self._app = app
        self._host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            if not self._host.keys.opens_durable_api(_caller_key(request)):
                await _unauthorized()(scope, receive, send)
                return
        await self._app(scope, receive, send)


class RpcTokenRequired:
    """Guards the SDK's RPC routes: the per-process token in the path, compared in constant time."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            presented = str(scope.get("path_params", {}).get("token", "")).encode()
            if not hmac.compare_digest(presented, self._token):
                # The same answer as for any unknown path: nothing tells a wrong token apart.
                await problem(404, "not found")(scope, receive, send)
                return
        await self._app(scope, receive, send)


def _request_headers(request: Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _public_url(public_base_url: str, request: Request) -> str:
    """The request's URL on the listening address, as sent (still encoded), with its query.

    Not from the Host header: in Azure only the site's own host names reach the app, and an app
    that builds links from `req.url` (the SDK's create_check_status_response does) must not be
    steerable by a forged Host.
    """
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    url = public_base_url + raw_path.decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{url}?{query}" if query else url


def to_response(result: Any) -> Response:
    """Convert what an HTTP function returned into a Starlette response (classic mode).

    A Starlette response passes through as it is: a `StreamingResponse` goes out chunk by chunk
    as the app produces them, and a client that disconnects cancels the app's stream (Starlette
    listens for the disconnect while it streams). Streams mode: `http_streams.function_response`.
    """
    if isinstance(result, Response):
        return result
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


# Azure's host refuses bodies over FUNCTIONS_REQUEST_BODY_SIZE_LIMIT bytes (100 MB by default).
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
DEFAULT_BODY_LIMIT = 100 * 1024 * 1024


def request_body_limit(environ: Mapping[str, str]) -> int:
    raw = environ.get(BODY_LIMIT_SETTING) or ""
    if not raw:
        return DEFAULT_BODY_LIMIT
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ValueError(f"{BODY_LIMIT_SETTING} must be a positive number of bytes, got {raw!r}")
    return int(raw)


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is known to exceed `limit`: by its declared length before
    reading anything, else by counting, and reading stops there."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class FunctionEndpoint:
    """Dispatches every path that is not devhost's own to the app's HTTP triggers."""

    def __init__(self, host: FunctionHost) -> None:
        self._host = host
        self._max_body = request_body_limit(os.environ)

    async def handle(self, request: Request) -> Response:
        # Match the still-encoded path: route values are decoded once, after matching, so an
        # encoded slash stays inside its segment.
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        resolved = self._host.routes.resolve(raw_path.decode("utf-8", "replace"), request.method)
        if resolved is None:
            # The path is not echoed: whatever a caller put in it stays out of the answer.
            return problem(404, "no function serves this path")
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
        if function.info.unsupported:
            return problem(
                501, f"function {function.info.name!r} is not served: {function.info.unsupported}"
            )
        body = await _read_body(request, self._max_body)
        if body is None:
            return problem(413, f"the request body is over {self._max_body} bytes")
        streams = self._host.app.http_streams
        trigger_value: Any
        if streams:
            trigger_value = function_request(request, body, match.route_params)
        else:
            trigger_value = func.HttpRequest(
                method=request.method,
                url=_public_url(self._host.public_base_url, request),
                headers=_request_headers(request),
                params=dict(request.query_params),
                route_params=dict(match.route_params),
                body=body,
            )
        # In the caller's trace when it sent a traceparent, as the Functions host does.
        context = self._host.invoker.new_context(
            function.info, InvocationTrace.from_headers(request.headers)
        )
        started = time.perf_counter()
        try:
            result = await self._host.invoker.call(function.info, trigger_value, context)
            response = function_response(result) if streams else to_response(result)
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


def build_app(host: FunctionHost, metrics: MetricTotals | None = None) -> Starlette:
    """The public app; with `metrics`, the local metrics view at /admin/metrics (master key)."""
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
    if metrics is not None:

        async def metrics_view(request: Request) -> Response:
            return view(metrics, os.environ)

        routes.append(Route("/admin/metrics", _admin(host, metrics_view), methods=["GET"]))
    if host.engine is not None:
        # Only the keyed webhooks here: the SDK's keyless RPC routes are on `build_rpc_app`.
        routes.append(Mount(WEBHOOK_PATH, app=DurableKeyRequired(host.engine.router(), host)))
    # Every method reaches the endpoint, which answers 405 with the function's own Allow list.
    methods = [*ALL_METHODS, "TRACE", "CONNECT"]
    routes.append(Route("/{path:path}", FunctionEndpoint(host).handle, methods=methods))

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await host.start()
        try:
            yield
        finally:
            for task in list(background):
                task.cancel()
            await host.stop()

    async def not_served(request: Request, error: Exception) -> Response:
        # Paths no route pattern takes (a decoded newline, say) get the host's problem shape too.
        status = getattr(error, "status_code", 404)
        headers = getattr(error, "headers", None)
        return problem(status, "no function serves this path", headers=headers)

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_served, 405: not_served},
    )


def build_rpc_app(host: FunctionHost) -> Starlette:
    """The Durable SDK's RPC routes, for a listener on loopback only (Azure does the same).

    The client binding points the SDK here with the token in the path; no key is needed, so the
    token is what keeps other local users out, and the public port does not serve these routes.
    """
    if host.engine is None:
        raise ValueError("the app has no durable functions; there is no RPC to serve")
    guarded = RpcTokenRequired(host.engine.router(), host.rpc_token)
    app = Starlette(routes=[Mount(RPC_PATH + "/{token}", app=guarded)])
    # A wrong path is a plain 404, not a redirect to a path that might exist.
    app.router.redirect_slashes = False
    return app
