"""The simulator's HTTP surface: OpenAI and Azure OpenAI chat completions plus ``/sim`` control."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from devhost.simulator import openai_format as fmt
from devhost.simulator.answers import complete
from devhost.simulator.batch_routes import FilesAndBatches
from devhost.simulator.batches import BatchClock
from devhost.simulator.config import FaultKind, SimulatorConfig, describe_validation_error
from devhost.simulator.state import SimulatorState
from devhost.simulator.tokens import content_text, estimate_prompt_tokens
from devhost.simulator.validation import ChatRequest, InvalidRequestError, parse_chat_request

logger = logging.getLogger(__name__)

_JSON = "application/json"
_SERVER_SEND = "devhost.simulator.server_send"


class _SimulatorApp(Starlette):
    """Keeps the server's own ``send`` in the scope: dropping a connection needs its transport."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[_SERVER_SEND] = send
        await super().__call__(scope, receive, send)


def _json(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, headers=headers, media_type=_JSON)


def _invalid(exc: InvalidRequestError) -> Response:
    return _json(fmt.error_body(exc.message, "invalid_request_error", exc.param, exc.code), 400)


class _ChatEndpoint:
    """``POST /v1/chat/completions`` and the Azure deployment route."""

    def __init__(self, state: SimulatorState) -> None:
        self._state = state
        self._ids = itertools.count(1)

    async def handle(self, request: Request) -> Response:
        stats = self._state.stats
        stats.requests += 1
        stats.in_flight += 1
        streaming = False
        try:
            response = await self._serve(request)
            streaming = isinstance(response, StreamingResponse)
            return response
        finally:
            if not streaming:
                stats.in_flight -= 1

    async def _serve(self, request: Request) -> Response:
        state = self._state
        config = state.config
        stats = state.stats
        path_deployment = request.path_params.get("deployment")
        body = await request.body()

        if config.api_key is not None and not _has_key(request, config.api_key):
            stats.record(path_deployment, "401")
            return _json(
                fmt.error_body(
                    "Incorrect API key provided.", "invalid_request_error", None, "invalid_api_key"
                ),
                401,
            )
        try:
            chat = parse_chat_request(body, path_deployment)
        except InvalidRequestError as exc:
            stats.record(path_deployment, "400")
            return _invalid(exc)
        deployment = chat.deployment
        if config.strict_deployments and deployment not in state.known:
            stats.record(deployment, "404")
            return _json(
                fmt.dumps(
                    {
                        "error": {
                            "code": "DeploymentNotFound",
                            "message": "The API deployment for this resource does not exist.",
                            "type": None,
                            "param": None,
                        }
                    }
                ),
                404,
            )
        if config.content_filter_phrase is not None and _mentions(
            chat, config.content_filter_phrase
        ):
            stats.record(deployment, "400")
            return _json(fmt.content_filter_body(), 400)

        prompt_tokens = estimate_prompt_tokens(chat.messages, chat.tools)
        headers: dict[str, str] = {}
        limiter = state.limiter(deployment)
        if limiter is not None:
            admission = limiter.admit(prompt_tokens, chat.max_tokens, time.monotonic())
            headers.update(admission.headers)
            if not admission.allowed:
                stats.record(deployment, "429")
                return _too_many(admission.retry_after_s, admission.exhausted, headers)

        fault = state.plan(deployment).draw(time.monotonic())
        if fault is not None:
            stats.faults[fault.value] += 1
            if fault is FaultKind.RATE_LIMITED:
                stats.record(deployment, "429")
                retry_after_s = state.plan(deployment).config.retry_after_ms / 1000.0
                return _too_many(retry_after_s, "call", headers)
        await asyncio.sleep(state.latency.first_token_s())
        if fault is FaultKind.SERVER_ERROR:
            stats.record(deployment, "500")
            return _json(
                fmt.error_body(
                    "The server had an error while processing your request. Sorry about that!",
                    "server_error",
                ),
                500,
                headers,
            )
        if fault is FaultKind.UNAVAILABLE:
            stats.record(deployment, "503")
            return _json(
                fmt.error_body(
                    "The engine is currently overloaded, please try again later", "server_error"
                ),
                503,
                headers,
            )
        if fault is FaultKind.DROP:
            stats.dropped += 1
            stats.record(deployment, "dropped")
            return await _drop_connection(request)
        if fault is FaultKind.TIMEOUT:
            stalled_for = state.plan(deployment).config.timeout_s
            if not await _client_waits(request, stalled_for):
                stats.client_gone += 1
                stats.record(deployment, "client_gone")
                return Response(status_code=499)  # nobody is left to read it

        completion = complete(chat, config.answer_tokens)
        completion_id = f"chatcmpl-sim{next(self._ids):012d}"
        headers["x-request-id"] = completion_id
        created = int(time.time())
        stats.record(deployment, "200")
        stats.record_tokens(
            deployment, prompt_tokens, completion.completion_tokens, _last_user_text(chat)
        )
        per_token_s = state.latency.per_token_s
        if chat.stream:
            events = fmt.stream_events(
                completion_id, created, deployment, completion, prompt_tokens, chat.include_usage
            )
            return StreamingResponse(
                _paced(events, per_token_s, stats, completion.completion_tokens),
                media_type="text/event-stream",
                headers={**headers, "cache-control": "no-cache"},
            )
        if per_token_s > 0:
            await asyncio.sleep(per_token_s * completion.completion_tokens)
        return _json(
            fmt.completion_body(completion_id, created, deployment, completion, prompt_tokens),
            200,
            headers,
        )


async def _paced(
    events: Any, per_token_s: float, stats: Any, completion_tokens: int
) -> AsyncIterator[bytes]:
    """The events, one token's latency apart. A stream the client closes before its end is
    counted in ``streams_cut`` with the tokens it had sent (``cut_tokens_sent``): the endpoint
    never sent that stream's usage chunk, so the client must count what it received."""
    sent = 0
    finished = False
    try:
        first = True
        for event in events:
            if per_token_s > 0 and not first:
                await asyncio.sleep(per_token_s)
            first = False
            yield event
            sent += 1
        finished = True
    finally:
        stats.in_flight -= 1
        if not finished:
            stats.streams_cut += 1
            # The first event opens the message (role, or the tool's name) and carries no token.
            stats.cut_tokens_sent += min(max(0, sent - 1), completion_tokens)


def _has_key(request: Request, key: str) -> bool:
    if request.headers.get("api-key") == key:
        return True
    return request.headers.get("authorization", "") == f"Bearer {key}"


def _last_user_text(chat: ChatRequest) -> str | None:
    for message in reversed(chat.messages):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return None


def _mentions(chat: ChatRequest, phrase: str) -> bool:
    return any(phrase in content_text(m.get("content")) for m in chat.messages)


def _too_many(retry_after_s: float, what: str, headers: dict[str, str]) -> Response:
    whole_seconds = max(1, math.ceil(retry_after_s))
    headers = {
        **headers,
        "retry-after": str(whole_seconds),
        "retry-after-ms": str(max(1, math.ceil(retry_after_s * 1000))),
    }
    return _json(fmt.rate_limit_body(whole_seconds, what), 429, headers)


async def _client_waits(request: Request, seconds: float) -> bool:
    """Stall ``seconds``; False as soon as the client disconnects (so the stall ends too)."""
    try:
        async with asyncio.timeout(seconds):
            while (await request.receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        return True
    return False


class _UnfinishedResponse(Response):
    """Starts a response and stops: the server has to close the connection mid-response."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]}
        )


async def _drop_connection(request: Request) -> Response:
    """Close the socket without a response.

    Under uvicorn the server's ``send`` is a method of its request cycle, which holds the
    connection's transport: aborting it is a real dropped connection, and uvicorn then ignores
    whatever the app sends. Other servers get a response that stops after its headers.
    """
    server_send = request.scope.get(_SERVER_SEND)
    transport = getattr(getattr(server_send, "__self__", None), "transport", None)
    if isinstance(transport, asyncio.BaseTransport):
        transport.abort()
        await request.receive()  # returns http.disconnect once the server saw the connection go
        return Response(status_code=499)
    logger.warning("server offers no transport; dropping the connection after the headers")
    return _UnfinishedResponse()


class _Control:
    """``/sim/*`` runtime control and ``/v1/models``."""

    def __init__(self, state: SimulatorState) -> None:
        self._state = state

    async def get_config(self, request: Request) -> Response:
        return _json(fmt.dumps(self._state.config.model_dump(mode="json")))

    async def put_config(self, request: Request) -> Response:
        return await self._update(request, merge=False)

    async def patch_config(self, request: Request) -> Response:
        return await self._update(request, merge=True)

    async def _update(self, request: Request, merge: bool) -> Response:
        try:
            data = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _json(
                fmt.error_body(f"body is not JSON: {exc}", "invalid_request_error", None), 400
            )
        if not isinstance(data, dict):
            return _json(
                fmt.error_body("config must be a JSON object", "invalid_request_error", None), 400
            )
        if merge:
            data = {**self._state.config.model_dump(mode="json"), **data}
        try:
            config = SimulatorConfig.model_validate(data)
        except ValidationError as exc:
            message, field = describe_validation_error(exc)
            return _json(
                fmt.error_body(message, "invalid_request_error", field, "invalid_config"), 400
            )
        self._state.apply(config)
        logger.info("simulator config replaced")
        return _json(fmt.dumps(config.model_dump(mode="json")))

    async def reset(self, request: Request) -> Response:
        self._state.reset()
        return _json(fmt.dumps(self._state.describe()))

    async def stats(self, request: Request) -> Response:
        return _json(fmt.dumps(self._state.describe()))

    async def served(self, request: Request) -> Response:
        return _json(fmt.dumps(self._state.stats.served_dict()))

    async def models(self, request: Request) -> Response:
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "devhost-simulator"}
            for name in self._state.config.known_deployments()
        ]
        return _json(fmt.dumps({"object": "list", "data": data}))

    async def health(self, request: Request) -> Response:
        return _json(b'{"status":"ok"}')


def create_app(config: SimulatorConfig, batch_clock: BatchClock | None = None) -> Starlette:
    """The simulator as an ASGI app; ``app.state.simulator`` holds its live state.

    ``batch_clock`` times batches (wall time unless given: a host that skips time can pass its
    own clock so that batches follow it)."""
    state = SimulatorState(config, batch_clock)
    chat = _ChatEndpoint(state)
    control = _Control(state)
    files_and_batches = FilesAndBatches(
        state,
        lambda request: state.config.api_key is None or _has_key(request, state.config.api_key),
    )
    routes = [
        *files_and_batches.routes(),
        Route("/sim/batches/advance", files_and_batches.advance, methods=["POST"]),
        Route("/v1/chat/completions", chat.handle, methods=["POST"]),
        Route("/chat/completions", chat.handle, methods=["POST"]),
        Route("/openai/deployments/{deployment}/chat/completions", chat.handle, methods=["POST"]),
        Route("/v1/models", control.models, methods=["GET"]),
        Route("/sim/config", control.get_config, methods=["GET"]),
        Route("/sim/config", control.put_config, methods=["PUT"]),
        Route("/sim/config", control.patch_config, methods=["PATCH"]),
        Route("/sim/reset", control.reset, methods=["POST"]),
        Route("/sim/stats", control.stats, methods=["GET"]),
        Route("/sim/served", control.served, methods=["GET"]),
        Route("/sim/health", control.health, methods=["GET"]),
    ]
    app = _SimulatorApp(routes=routes)
    app.state.simulator = state
    return app
