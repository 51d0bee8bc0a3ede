"""Non-streamed chat completions posted straight on the aiohttp session, without httpx.

For every request the SDK merges its headers through ``httpx.Headers``, parses and copies the URL,
builds an ``httpx.Request``, sends it through httpx's client into the aiohttp adapter, wraps the
answer in an ``httpx.Response`` and an ``AsyncAPIResponse`` and builds the ``ChatCompletion`` in
pure Python (``construct_type``): most of a millisecond of CPU per call, for a request of which
only the body and the credential change from one call to the next.

``DirectPost`` takes the place of ``client.chat.completions._post``. Once per request shape (path,
model, cast-to type, request options) it learns from the SDK what the SDK would send: it runs the
SDK's own ``post`` with its ``_send_request`` stopped at the transport, twice, and keeps that
request: method, full URL (Azure's deployment path and ``api-version`` included), every header in
order, timeouts. Per call it then only computes what varies: the body (``openapi_dumps``, the
SDK's own serialiser, so the bytes are the SDK's), its ``content-length`` and the credential,
obtained as the SDK's ``_prepare_options`` obtains it: the key callable awaited again for every
request (keys rotate through Key Vault), the Azure AD token provider called, or the fixed key.
The request goes out on the transport's aiohttp session (one connection pool, the same
timeouts), the whole body is read, and a 2xx JSON answer is parsed with
``cast_to.model_validate_json(bytes, strict=True)``, request id attached as the SDK attaches it.
Where strict validation accepts an answer it holds what the SDK's construct holds (the same
``model_dump`` and ``to_json``); only ``model_fields_set`` also lists extra keys (Azure's filter
results), which construct leaves out. Learning costs two SDK request builds and three reads of
the credential, once per shape (concurrent first calls of a shape each learn it).

Everything else is the SDK's own code, on an ``httpx.Response`` built only then:

- a 2xx answer that is not plain JSON (other content type, a content encoding) or that strict
  validation refuses goes through the SDK's ``_process_response`` (its lenient construct), so
  nothing the SDK accepted is refused;
- a non-2xx answer raises ``client._make_status_error_from_response`` (same exception type,
  status, headers, body); aiohttp's errors, mapped to httpx's by the transport, become
  ``APITimeoutError`` / ``APIConnectionError`` as in the SDK's ``request``.

The SDK's full path is used (the call is handed to ``client.post`` unchanged) for:

- streamed requests, files, raw content, a body that is not a dict, request options other than
  the security scheme (extra headers, query or body, a timeout, a raw-response header);
- a shape whose two recordings differ in anything but the credential (a per-request header
  such as an idempotency key), whose request is not one this module would reproduce (another
  auth scheme or header than the credential it computes, a body other than ``openapi_dumps``'s),
  or whose URL httpx would route through a proxy mount; that shape keeps the SDK's path for good;
- the whole connection, when the installed SDK is not ``VERIFIED_SDK_VERSION``, the transport is
  not ``WholeAnswerAiohttpTransport`` (``Transport.HTTPX``) or has a proxy, SDK retries are on,
  the client has an idempotency header, custom auth, a provider or workload identity, or httpx
  event hooks other than Azure's redirect hook;
- a call whose credential comes back empty (the SDK decides what to send then), every call
  after an answer set a cookie (httpx's cookie jar gets it, and the SDK sends it from then on),
  and every call while the transport's send is wrapped (OpenTelemetry's httpx2
  ``instrument_client``: its spans and ``traceparent`` come from the SDK's path; the global
  httpx2 instrumentation of the Azure Monitor distro wraps only ``AsyncHTTPTransport``, which this
  transport is not, so over aiohttp neither path has HTTP client spans).

``tests/agentops/model/test_direct_post.py`` checks, at a real HTTP server, that both paths send
the same method, URL, headers and body bytes for every agent in ``agents.yaml``, on OpenAI and
Azure (key and token provider) with a rotating key, that the parsed answers and the errors are
the same, and it fails when the installed SDK is not the verified one.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
import pydantic
from openai import APIConnectionError, APITimeoutError, AsyncAzureOpenAI, AsyncOpenAI
from openai._httpx2 import request_exceptions, timeout_exceptions
from openai._models import FinalRequestOptions, add_request_id
from openai._utils._json import openapi_dumps
from openai.lib.azure import API_KEY_SENTINEL, _async_strip_azure_api_key_on_redirect

from agentops.model.aiohttp_transport import WholeAnswerAiohttpTransport
from agentops.model.request_body import sdk_is_verified

logger = logging.getLogger(__name__)

# Credential: the header that carries it and its value, or None to leave the call to the SDK.
Credential = Callable[[], Awaitable[tuple[str, str] | None]]

_HTTP_11 = {"http_version": b"HTTP/1.1"}
_TRANSPORT_SEND = WholeAnswerAiohttpTransport.handle_async_request
_MISSING = object()
# Set while the SDK's post runs only to show what it would send.
_recording: contextvars.ContextVar[bool] = contextvars.ContextVar("direct_post_recording")


@dataclass(frozen=True, slots=True)
class _Template:
    """What the SDK sends for one request shape, but the body, its length and the credential."""

    method: str
    url: str
    headers: dict[str, str]
    extensions: dict[str, Any]
    timeout: Any  # aiohttp.ClientTimeout
    server_hostname: str | None


class _Recorded(Exception):
    """Stops the SDK's request at its send, with the request it built."""

    def __init__(self, request: httpx2.Request, kwargs: dict[str, Any]) -> None:
        super().__init__(request.url)
        self.request, self.kwargs = request, kwargs


class DirectPost:
    """``_post`` of chat completions that sends non-streamed requests without httpx."""

    def __init__(
        self,
        client: AsyncOpenAI,
        transport: WholeAnswerAiohttpTransport,
        credential: Credential,
    ) -> None:
        self._client = client
        self._transport = transport
        self._credential = credential
        self._sdk_post = client.post
        self._templates: dict[tuple[Any, ...], _Template | None] = {}
        self._cookies_seen = False
        sdk_send = client._send_request

        async def send_or_record(request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
            if _recording.get(False):
                raise _Recorded(request, kwargs)
            return await sdk_send(request, **kwargs)

        client._send_request = send_or_record  # type: ignore[method-assign]

    async def __call__(
        self,
        path: str,
        *,
        cast_to: Any,
        body: Any = None,
        options: Mapping[str, Any] | None = None,
        stream: bool = False,
        stream_cls: Any = None,
        **rest: Any,
    ) -> Any:
        options = options if options is not None else {}
        sdk_call = dict(
            cast_to=cast_to, body=body, options=options, stream=stream, stream_cls=stream_cls
        )
        if stream or rest or type(body) is not dict or self._cookies_seen or self._wrapped():
            return await self._sdk_post(path, **sdk_call, **rest)
        key = _shape(path, body, cast_to, options)
        template = self._templates.get(key, _MISSING) if key is not None else None
        if template is _MISSING:
            template = self._templates[key] = await self._learn(path, sdk_call)
        credential = await self._credential() if template is not None else None
        if template is None or credential is None:
            return await self._sdk_post(path, **sdk_call)
        assert isinstance(template, _Template)
        return await self._send(template, path, credential, sdk_call)

    def _wrapped(self) -> bool:
        """Whether something (OpenTelemetry's ``instrument_client``) wraps the transport's send:
        then every request goes through it, as the SDK would send it."""
        transport = self._transport
        return "handle_async_request" in vars(transport) or (
            type(transport).handle_async_request is not _TRANSPORT_SEND
        )

    async def _send(
        self,
        template: _Template,
        path: str,
        credential: tuple[str, str],
        sdk_call: dict[str, Any],
    ) -> Any:
        content = openapi_dumps(sdk_call["body"])
        headers = template.headers.copy()
        headers["content-length"] = str(len(content))
        headers[credential[0]] = credential[1]
        try:
            answer, data = await self._transport.fetch(
                template.method,
                template.url,
                headers,
                content,
                template.timeout,
                template.server_hostname,
            )
        except timeout_exceptions() as err:
            raise APITimeoutError(request=_request(template, headers, content)) from err
        except request_exceptions() as err:
            raise APIConnectionError(request=_request(template, headers, content)) from err
        found = answer.headers
        if "set-cookie" in found:
            self._cookies_seen = True  # from now on the SDK, which keeps and sends cookies
        elif (
            200 <= answer.status < 300
            and "content-encoding" not in found
            and found.get("content-type", "*").split(";")[0].endswith("json")
        ):
            try:
                parsed = sdk_call["cast_to"].model_validate_json(data, strict=True)
            except pydantic.ValidationError:
                pass  # the SDK's lenient construct below decides
            else:
                add_request_id(parsed, found.get("x-request-id"))
                return parsed
        extensions = dict(_HTTP_11)
        if answer.reason:
            extensions["reason_phrase"] = answer.reason.encode()
        response = httpx2.Response(
            status_code=answer.status,
            headers=answer.raw_headers,
            content=data,
            request=_request(template, headers, content),
            extensions=extensions,
        )
        if self._cookies_seen:
            self._client._client.cookies.extract_cookies(response)
        if not response.is_success:
            raise self._client._make_status_error_from_response(response) from None
        options = FinalRequestOptions.construct(
            method="post", url=path, json_data=sdk_call["body"], **sdk_call["options"]
        )
        return await self._client._process_response(
            cast_to=sdk_call["cast_to"],
            options=options,
            response=response,
            stream=False,
            stream_cls=sdk_call["stream_cls"],
        )

    async def _learn(self, path: str, sdk_call: dict[str, Any]) -> _Template | None:
        """What the SDK sends for this shape; None where this path would send anything else."""
        first, second = await self._record(path, sdk_call), await self._record(path, sdk_call)
        credential = await self._credential()
        if first is None or second is None or credential is None:
            return None
        name = credential[0]
        template = self._template(first.request)
        again = self._template(second.request)
        sent = template.headers.get(name), again.headers.get(name)
        # Nothing but the credential (a rotating key) may vary from one request to the next.
        template.headers[name] = again.headers[name] = credential[1]
        body = openapi_dumps(sdk_call["body"])
        same = (
            first.kwargs == second.kwargs == {"stream": False}  # no auth flow, no redirects
            and template == again
            and first.request.content == second.request.content == body
            and template.headers.get("content-length") == str(len(body))
            and all(_same_scheme(value, credential[1]) for value in sent)
            and self._client._client._transport_for_url(first.request.url) is self._transport
        )
        if not same:
            logger.info("chat requests to %s (%s): the SDK sends them", path, sdk_call["cast_to"])
            return None
        return template

    async def _record(self, path: str, sdk_call: dict[str, Any]) -> _Recorded | None:
        token = _recording.set(True)
        try:
            await self._sdk_post(path, **sdk_call)
        except _Recorded as recorded:
            return recorded
        finally:
            _recording.reset(token)
        return None  # pragma: no cover - the SDK always sends

    def _template(self, request: httpx2.Request) -> _Template:
        # The headers as aiohttp is handed them by the adapter (httpx's items(), in order).
        headers = dict(request.headers.items())
        extensions = {
            key: value for key, value in request.extensions.items() if key != "sni_hostname"
        }
        return _Template(
            method=request.method,
            url=str(request.url),
            headers=headers,
            extensions=extensions,
            timeout=self._transport.timeout_for(request.extensions.get("timeout", {})),
            server_hostname=request.extensions.get("sni_hostname"),
        )


def _shape(
    path: str, body: dict[str, Any], cast_to: Any, options: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """The key of a learned request: None for options this path does not reproduce."""
    if options.keys() - {"security"}:
        return None
    security = options.get("security") or {}
    model = body.get("model")  # Azure puts it in the URL's path
    if not isinstance(model, str):
        return None
    return (path, model, cast_to, tuple(sorted(security.items())))


def _same_scheme(sent: str | None, ours: str) -> bool:
    """The same kind of credential: ``Bearer x`` against ``Bearer y``, a bare key against one."""
    if sent is None:
        return False
    return sent.partition(" ")[0] == ours.partition(" ")[0] if " " in ours else " " not in sent


def _request(template: _Template, headers: Mapping[str, str], content: bytes) -> httpx2.Request:
    """The httpx request the SDK would have sent, for its errors and responses."""
    return httpx2.Request(
        template.method,
        template.url,
        headers=headers,
        content=content,
        extensions=dict(template.extensions),
    )


def credential_of(client: AsyncOpenAI) -> Credential | None:
    """The credential the SDK's ``_prepare_options`` puts on each request of ``client``; None
    for a client whose authentication this module does not reproduce."""
    if (
        client._provider_runtime is not None
        or client.workload_identity is not None
        or client.custom_auth is not None
    ):
        return None
    if isinstance(client, AsyncAzureOpenAI):
        azure = client

        async def azure_credential() -> tuple[str, str] | None:
            # The order of AsyncAzureOpenAI._prepare_options: key refreshed, then the token.
            if azure._api_key_provider is not None:
                api_key = await azure._refresh_api_key()
            else:
                api_key = azure.api_key
            token = await azure._get_azure_ad_token()
            if token is not None:
                return "authorization", f"Bearer {token}"
            if api_key and api_key != API_KEY_SENTINEL:
                return "api-key", api_key
            return None

        return azure_credential
    if type(client) is not AsyncOpenAI:
        return None

    async def bearer() -> tuple[str, str] | None:
        if client._api_key_provider is not None:
            api_key = await client._refresh_api_key()
        else:
            api_key = client.api_key
        return ("authorization", f"Bearer {api_key}") if api_key else None

    return bearer


def post_directly(client: AsyncOpenAI, *, force: bool = False) -> bool:
    """Have ``client.chat.completions`` post non-streamed requests on the aiohttp session; False
    (and the SDK's own path) where this module would not reproduce the SDK's request, or when
    the installed SDK is not the verified one, unless ``force``."""
    if not force and not sdk_is_verified("the SDK sends chat requests"):
        return False
    http = client._client
    transport = getattr(http, "_transport", None)
    hooks = getattr(http, "event_hooks", {"request": [None], "response": [None]})
    credential = credential_of(client)
    usable = (
        isinstance(transport, WholeAnswerAiohttpTransport)
        and transport.proxy is None
        and client.max_retries == 0
        and client._idempotency_header is None
        and credential is not None
        and all(hook is _async_strip_azure_api_key_on_redirect for hook in hooks["request"])
        and not hooks["response"]
    )
    if not usable:
        logger.info("chat requests of %s: the SDK sends them", type(client).__name__)
        return False
    assert isinstance(transport, WholeAnswerAiohttpTransport) and credential is not None
    completions = client.chat.completions
    completions._post = DirectPost(client, transport, credential)  # type: ignore[method-assign]
    return True
