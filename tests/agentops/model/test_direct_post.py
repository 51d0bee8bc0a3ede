"""``DirectPost`` sends what the SDK sends and returns (or raises) what the SDK returns.

A real HTTP server on 127.0.0.1 (aiohttp.web) answers like a model and keeps every request as it
arrived: method, path and query, headers in order and body bytes. Each case runs twice on a
``ModelConnection`` over aiohttp: once with the SDK's own ``_post``, once with ``DirectPost``.

``test_the_installed_sdk_is_the_verified_one`` (in test_request_body.py, and again here) fails
after an SDK upgrade: run this module against the new version, then move
``VERIFIED_SDK_VERSION`` (agentops/model/request_body.py).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import pytest
from aiohttp import web
from openai import APIConnectionError, APIStatusError, APITimeoutError
from openai.types.chat import ChatCompletion
from pydantic import SecretStr

from agentops.agents.registry import AgentRegistry
from agentops.agents.runner import AgentRunner
from agentops.model.direct_post import DirectPost, post_directly
from agentops.model.openai_client import ModelConnection, Transport
from agentops.model.request_body import VERIFIED_SDK_VERSION
from agentops.model.types import ChatMessage
from devhost.simulator import SimulatorConfig
from devhost.simulator.server import serve_in_background

from .test_request_body import _TOOL_CALLS, QUERIES, _cases

REPO_AGENTS = Path(__file__).resolve().parents[3] / "agents.yaml"
CREDENTIAL_HEADERS = ("authorization", "api-key")
AZURE_EXTRAS = {
    "prompt_filter_results": [
        {
            "prompt_index": 0,
            "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}},
        }
    ],
}
CHOICE_FILTER = {"hate": {"filtered": False, "severity": "safe"}, "jailbreak": {"filtered": False}}

Reply = Callable[[dict[str, Any]], web.Response]


@dataclass
class Sent:
    method: str
    path_qs: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class ModelServer:
    """A model endpoint on loopback that keeps every request exactly as it arrived."""

    url: str = ""
    tool: str | None = None
    reply: Reply | None = None
    requests: list[Sent] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = [(name.decode(), value.decode()) for name, value in request.raw_headers]
        self.requests.append(Sent(request.method, request.path_qs, headers, body))
        payload = json.loads(body)
        if self.reply is not None:
            return self.reply(payload)
        return web.json_response(completion(payload, self.tool), headers={"x-request-id": "req-1"})


def completion(payload: dict[str, Any], tool: str | None, **extra: Any) -> dict[str, Any]:
    last = payload["messages"][-1]
    message: dict[str, Any]
    if tool and payload.get("tools") and last["role"] == "user":
        arguments = json.dumps(_TOOL_CALLS[tool])
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": tool, "arguments": arguments},
        }
        message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    else:
        message, finish = (
            {"role": "assistant", "content": f"Answer {len(payload['messages'])}."},
            "stop",
        )
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": payload["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": 40,
            "completion_tokens": 9,
            "total_tokens": 49,
            "prompt_tokens_details": {"cached_tokens": 32, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "accepted_prediction_tokens": 0},
        },
        **extra,
    }


@pytest.fixture
async def server() -> AsyncIterator[ModelServer]:
    model = ModelServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", model.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    model.url = f"http://127.0.0.1:{port}"
    yield model
    await runner.cleanup()


class Counter:
    """A credential that changes on every read, as a key rotated in Key Vault would."""

    def __init__(self, prefix: str) -> None:
        self.prefix, self.n = prefix, 0

    def next(self) -> str:
        self.n += 1
        return f"{self.prefix}-{self.n:06d}"


@dataclass
class Credential:
    """How a connection authenticates: a fixed key, a rotating key, or Entra ID tokens."""

    kind: str

    def connection(self, url: str, *, timeout_s: float = 10.0) -> ModelConnection:
        common: dict[str, Any] = {"timeout_s": timeout_s, "transport": Transport.AIOHTTP}
        counter = Counter(self.kind)

        async def rotating_key() -> SecretStr:
            return SecretStr(counter.next())

        key: Any = rotating_key if "rotating" in self.kind else SecretStr("fixed-key")
        if self.kind.startswith("openai"):
            return ModelConnection.openai_compatible(base_url=f"{url}/v1", api_key=key, **common)
        if self.kind == "azure-token":

            class TokenCredential:
                async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
                    raise AssertionError("the provider below is used")

            connection = ModelConnection.azure(
                azure_endpoint=url, credential=TokenCredential(), **common
            )

            async def token() -> str:
                return counter.next()

            # A token per request (the real provider caches them until they near expiry).
            connection.client._azure_ad_token_provider = token  # type: ignore[attr-defined]
            return connection
        return ModelConnection.azure(azure_endpoint=url, api_key=key, **common)


KINDS = ["openai-key", "openai-rotating", "azure-key", "azure-rotating", "azure-token"]


OPEN: list[ModelConnection] = []


@pytest.fixture(autouse=True)
async def close_connections() -> AsyncIterator[None]:
    yield
    while OPEN:
        await OPEN.pop().aclose()


async def both(
    credential: Credential, url: str, **kwargs: Any
) -> tuple[ModelConnection, ModelConnection]:
    """The same connection twice: the SDK's own post, and the direct one."""
    sdk, direct = credential.connection(url, **kwargs), credential.connection(url, **kwargs)
    OPEN.extend((sdk, direct))
    completions = sdk.client.chat.completions
    completions._post = sdk.client.post  # type: ignore[method-assign]
    post = direct.client.chat.completions._post
    assert isinstance(post, DirectPost)
    fetch = post._transport.fetch
    FETCHED[id(direct)] = []

    async def counted(*args: Any, **kwargs: Any) -> Any:
        FETCHED[id(direct)].append(args[1])
        return await fetch(*args, **kwargs)

    post._transport.fetch = counted  # type: ignore[method-assign]
    return sdk, direct


# URLs each direct connection fetched itself, without httpx: proof the direct path was taken.
FETCHED: dict[int, list[str]] = {}


def comparable(sent: list[Sent]) -> list[tuple[Any, ...]]:
    """The requests with the credential's value left out (checked on its own)."""
    return [
        (
            s.method,
            s.path_qs,
            [(n, "<credential>" if n.lower() in CREDENTIAL_HEADERS else v) for n, v in s.headers],
            s.body,
        )
        for s in sent
    ]


def credentials(sent: list[Sent]) -> list[str]:
    return [v for s in sent for n, v in s.headers if n.lower() in CREDENTIAL_HEADERS]


def templates(connection: ModelConnection) -> dict[Any, Any]:
    return connection.client.chat.completions._post._templates  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", KINDS)
async def test_every_agent_sends_the_sdks_request(server: ModelServer, kind: str) -> None:
    registry = AgentRegistry.from_yaml(REPO_AGENTS)
    credential = Credential(kind)
    history = (ChatMessage("user", "Earlier question?"), ChatMessage("assistant", "Earlier."))
    for agent, tool in _cases(registry):
        server.tool = tool
        sent: list[list[Sent]] = []
        answers: list[list[Any]] = []
        sdk, direct = await both(credential, server.url)
        for connection in (sdk, direct):
            server.requests = []
            runner = AgentRunner(registry, connection)
            got = []
            for query in QUERIES:
                for past in ((), history):
                    answer = await runner.invoke(registry.request_for(agent, "t", query, past))
                    got.append((answer.text, answer.usage, answer.model_calls))
            sent.append(server.requests)
            answers.append(got)
        assert comparable(sent[1]) == comparable(sent[0]), f"{kind} {agent} ({tool})"
        assert answers[1] == answers[0]
        assert templates(direct) and None not in templates(direct).values()
        assert len(FETCHED[id(direct)]) == len(sent[1])
        if tool:
            assert any(b'"role":"tool"' in s.body for s in sent[1]), agent
        for requests in sent:
            values = credentials(requests)
            assert len(values) == len(requests)
            if "rotating" in kind or kind == "azure-token":
                # Read again for every request: each one carries a newer credential.
                assert values == sorted(values) and len(set(values)) == len(values)
            else:
                expected = "Bearer fixed-key" if kind.startswith("openai") else "fixed-key"
                assert set(values) == {expected}
        if kind.startswith("azure"):
            assert sent[1][0].path_qs.endswith("/chat/completions?api-version=2024-10-21")


ANSWERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "text": lambda p: completion(p, None),
    "tool calls": lambda p: completion({**p, "tools": [{}], "messages": [{"role": "user"}]}, "add"),
    "azure filters": lambda p: {
        **completion(p, None, **AZURE_EXTRAS),
        "choices": [{**completion(p, None)["choices"][0], "content_filter_results": CHOICE_FILTER}],
    },
    # Strict validation refuses these; the SDK's lenient construct takes them as they are.
    "string created": lambda p: {**completion(p, None), "created": "17"},
    "unknown finish": lambda p: {
        **completion(p, None),
        "choices": [{**completion(p, None)["choices"][0], "finish_reason": "new_reason"}],
    },
    "no usage, no object": lambda p: {
        k: v for k, v in completion(p, None).items() if k not in ("usage", "object")
    },
}


def same_completion(ours: Any, sdk: Any) -> None:
    assert type(ours) is type(sdk)
    assert ours.model_dump() == sdk.model_dump()
    assert ours.model_dump(exclude_unset=True) == sdk.model_dump(exclude_unset=True)
    assert ours.to_json() == sdk.to_json()
    # Validation counts extra keys (Azure's filter results) as set; construct does not.
    assert ours.model_fields_set - set(ours.model_extra or {}) == sdk.model_fields_set
    assert ours._request_id == sdk._request_id


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")  # "17" as created, both
@pytest.mark.parametrize("answer", list(ANSWERS))
async def test_answers_parse_as_the_sdk_parses_them(server: ModelServer, answer: str) -> None:
    server.reply = lambda p: web.json_response(ANSWERS[answer](p), headers={"x-request-id": "r9"})
    sdk, direct = await both(Credential("azure-key"), server.url)
    messages = [{"role": "user", "content": "hi"}]
    parsed = [
        await c.client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=False)
        for c in (sdk, direct)
    ]
    same_completion(parsed[1], parsed[0])
    assert len(FETCHED[id(direct)]) == 1


async def test_simulator_answers_parse_as_the_sdk_parses_them() -> None:
    config = SimulatorConfig.model_validate({"latency": {"ms": 0}})
    registry = AgentRegistry.from_yaml(REPO_AGENTS)
    async with serve_in_background(config) as sim:
        connections = [
            ModelConnection.openai_compatible(
                base_url=sim.url, api_key=SecretStr("k"), transport=Transport.AIOHTTP
            )
            for _ in range(2)
        ]
        sdk, direct = connections
        sdk.client.chat.completions._post = sdk.client.post  # type: ignore[method-assign]
        for agent, _ in _cases(registry):
            request = registry.request_for(agent, "t", "What is 2 + 3.5 and 21.5 C in F?")
            answers = [await AgentRunner(registry, c).invoke(request) for c in connections]
            assert answers[1].text == answers[0].text
            assert answers[1].usage == answers[0].usage
            parsed = [
                await c.client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": f"Question for {agent}"}],
                    stream=False,
                )
                for c in connections
            ]
            dumps = [{**p.model_dump(), "id": "", "created": 0} for p in parsed]
            assert dumps[1] == dumps[0]
            assert parsed[1].model_dump(exclude_unset=True).keys() == (
                parsed[0].model_dump(exclude_unset=True).keys()
            )
        assert templates(direct) and None not in templates(direct).values()
        for connection in connections:
            await connection.aclose()


def error_reply(status: int, body: bytes, headers: dict[str, str]) -> Reply:
    return lambda _: web.Response(status=status, body=body, headers=headers)


ERRORS: dict[str, Reply] = {
    "429 retry-after": error_reply(
        429,
        json.dumps({"error": {"message": "Slow down", "code": "rate_limit_exceeded"}}).encode(),
        {"content-type": "application/json", "retry-after": "7", "x-request-id": "r429"},
    ),
    "500 text": error_reply(500, b"upstream failed", {"content-type": "text/plain"}),
    "400 content filter": error_reply(
        400,
        json.dumps(
            {"error": {"message": "Filtered", "code": "content_filter", "param": "prompt"}}
        ).encode(),
        {"content-type": "application/json"},
    ),
}


def error_facts(exc: BaseException) -> tuple[Any, ...]:
    facts: tuple[Any, ...] = (type(exc), str(exc), type(exc.__cause__))
    if isinstance(exc, APIStatusError):
        response = exc.response
        facts += (exc.status_code, exc.body, exc.code, exc.request_id, response.content)
        facts += (response.headers.get("retry-after"), response.headers.get("content-type"))
        facts += (response.reason_phrase, response.request.method, str(response.request.url))
    if isinstance(exc, APIConnectionError):
        facts += (exc.request.method, str(exc.request.url), exc.request.content)
    return facts


async def raised(connection: ModelConnection) -> BaseException:
    with pytest.raises(openai.OpenAIError) as caught:
        await connection.client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=False
        )
    return caught.value


@pytest.mark.parametrize("error", list(ERRORS))
async def test_status_errors_are_the_sdks(server: ModelServer, error: str) -> None:
    server.reply = ERRORS[error]
    for kind in ("openai-key", "azure-token"):
        sdk, direct = await both(Credential(kind), server.url)
        facts = [error_facts(await raised(c)) for c in (sdk, direct)]
        assert facts[1] == facts[0]
        assert len(FETCHED[id(direct)]) == 1


async def test_a_timeout_is_the_sdks(server: ModelServer) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        sdk, direct = await both(
            Credential("openai-key"), f"http://127.0.0.1:{port}", timeout_s=0.2
        )
        facts = [error_facts(await raised(c)) for c in (sdk, direct)]
        assert facts[0][0] is APITimeoutError
        assert facts[1] == facts[0]
        assert len(FETCHED[id(direct)]) == 1
    finally:
        await runner.cleanup()


async def test_a_refused_connection_is_the_sdks() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    sdk, direct = await both(Credential("azure-rotating"), f"http://127.0.0.1:{port}")
    facts = [error_facts(await raised(c)) for c in (sdk, direct)]
    # The adapter maps aiohttp's connection errors to httpx's ConnectTimeout: the SDK's
    # APITimeoutError, an APIConnectionError, on both paths.
    assert issubclass(facts[0][0], APIConnectionError)
    assert facts[1] == facts[0]
    assert len(FETCHED[id(direct)]) == 1


async def test_what_the_direct_path_does_not_reproduce_goes_to_the_sdk(
    server: ModelServer,
) -> None:
    connection = Credential("openai-key").connection(server.url)
    OPEN.append(connection)
    completions = connection.client.chat.completions
    messages = [{"role": "user", "content": "hi"}]
    await completions.create(
        model="gpt-4o-mini", messages=messages, stream=False, extra_headers={"x-trace": "1"}
    )
    await completions.create(model="gpt-4o-mini", messages=messages, stream=False, timeout=3.0)
    assert templates(connection) == {}
    assert ("x-trace", "1") in server.requests[0].headers
    server.reply = lambda p: web.Response(
        body=b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[]}\n\ndata: [DONE]\n\n',
        content_type="text/event-stream",
    )
    stream = await completions.create(model="gpt-4o-mini", messages=messages, stream=True)
    assert [chunk.id async for chunk in stream] == ["c"]
    assert templates(connection) == {}


async def test_a_cookie_hands_the_connection_back_to_the_sdk(server: ModelServer) -> None:
    def with_cookie(payload: dict[str, Any]) -> web.Response:
        response = web.json_response(completion(payload, None))
        response.set_cookie("affinity", "node-3")
        return response

    server.reply = with_cookie
    connection = Credential("openai-key").connection(server.url)
    OPEN.append(connection)
    completions = connection.client.chat.completions
    messages = [{"role": "user", "content": "hi"}]
    for _ in range(2):
        answer = await completions.create(model="gpt-4o-mini", messages=messages, stream=False)
        assert answer.choices[0].message.content == "Answer 1."
    assert ("Cookie", "affinity=node-3") in [(n.title(), v) for n, v in server.requests[1].headers]
    await connection.aclose()


async def test_a_wrapped_transport_sends_through_the_sdk(server: ModelServer) -> None:
    connection = Credential("openai-key").connection(server.url)
    OPEN.append(connection)
    post = connection.client.chat.completions._post
    assert isinstance(post, DirectPost)
    transport = post._transport
    seen: list[str] = []
    send = transport.handle_async_request

    async def wrapped(request: Any) -> Any:  # as instrument_client wraps a client's transport
        seen.append(str(request.url))
        return await send(request)

    transport.handle_async_request = wrapped  # type: ignore[method-assign]
    messages = [{"role": "user", "content": "hi"}]
    await connection.client.chat.completions.create(model="m", messages=messages, stream=False)
    assert seen == [f"{server.url}/v1/chat/completions"]
    assert templates(connection) == {}


async def test_only_the_aiohttp_transport_of_the_verified_sdk_posts_directly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if True:
        httpx_connection = ModelConnection.openai_compatible(
            base_url="http://127.0.0.1:9/v1", api_key=SecretStr("k"), transport=Transport.HTTPX
        )
        assert not isinstance(httpx_connection.client.chat.completions._post, DirectPost)
        assert not post_directly(httpx_connection.client)
        monkeypatch.setattr(openai, "__version__", "0.0.1")
        aiohttp_connection = ModelConnection.openai_compatible(
            base_url="http://127.0.0.1:9/v1", api_key=SecretStr("k"), transport=Transport.AIOHTTP
        )
        assert not isinstance(aiohttp_connection.client.chat.completions._post, DirectPost)
        for connection in (httpx_connection, aiohttp_connection):
            await connection.aclose()


def test_the_installed_sdk_is_the_verified_one() -> None:
    assert openai.__version__ == VERIFIED_SDK_VERSION, (
        f"openai {openai.__version__} is installed; run this module and test_request_body.py "
        "against it, then set VERIFIED_SDK_VERSION in agentops/model/request_body.py"
    )


def test_chat_completion_is_the_type_learned() -> None:
    assert ChatCompletion.model_validate_json(
        json.dumps(completion({"model": "m", "messages": [{"role": "user"}]}, None)), strict=True
    )
