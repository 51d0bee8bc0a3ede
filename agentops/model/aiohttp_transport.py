"""An httpx transport over one aiohttp session that reads whole answers in one step.

The OpenAI SDK speaks httpx; ``openai[aiohttp]`` adapts it to aiohttp, which holds up better with
many requests in flight on one event loop. Its adapter hands every answer back as a stream, which
the SDK then reads chunk by chunk through an async generator, with the exception mapping entered
again for each chunk and a separate close. A chat completion that is not streamed is read whole
anyway, so this transport reads it inside the request, in one step, and returns it as content;
a streamed answer (``text/event-stream``) stays a stream, as the adapter gives it.

Everything else is the adapter's: the same session and connector settings, timeouts, headers,
no redirects, no decompression by aiohttp (httpx decodes, as with any transport), and the same
mapping of aiohttp's errors to httpx's, which the SDK turns into its connection and timeout errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import httpx2
from openai._vendor.httpx_aiohttp import AiohttpTransport
from openai._vendor.httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions

_EVENT_STREAM = "text/event-stream"
_HTTP_11 = {"http_version": b"HTTP/1.1"}


class WholeAnswerAiohttpTransport(AiohttpTransport):
    """``AiohttpTransport`` that returns answers other than event streams already read."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._timeouts: dict[tuple[Any, Any, Any], aiohttp.ClientTimeout] = {}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if not isinstance(self.client, aiohttp.ClientSession) or self.proxy is not None:
            return await super().handle_async_request(request)  # first call, or a proxy
        try:
            data: bytes | None = request.content or None
        except httpx2.RequestNotRead:
            return await super().handle_async_request(request)  # a streamed upload
        with map_aiohttp_exceptions():
            response = await self._send(
                request.method,
                str(request.url),
                request.headers,
                data,
                self.timeout_for(request.extensions.get("timeout", {})),
                request.extensions.get("sni_hostname"),
            )
            extensions = dict(_HTTP_11)
            if response.reason:
                extensions["reason_phrase"] = response.reason.encode()
            if response.content_type == _EVENT_STREAM:
                return httpx2.Response(
                    status_code=response.status,
                    headers=response.raw_headers,
                    stream=AiohttpResponseStream(response),
                    request=request,
                    extensions=extensions,
                )
            content = await _read(response)
        return httpx2.Response(
            status_code=response.status,
            headers=response.raw_headers,
            content=content,
            request=request,
            extensions=extensions,
        )

    def session(self) -> aiohttp.ClientSession:
        """The one aiohttp session (connection pool), made as the adapter makes it on first use."""
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        return self.client

    async def fetch(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        data: bytes,
        timeouts: aiohttp.ClientTimeout,
        server_hostname: str | None,
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        """One whole answer on the session, for callers that build their own requests
        (``agentops.model.direct_post``): the response (its head) and its body, undecoded, with
        aiohttp's errors mapped to httpx's as for any request of this transport."""
        with map_aiohttp_exceptions():
            response = await self._send(method, url, headers, data, timeouts, server_hostname)
            return response, await _read(response)

    def _send(
        self,
        method: str,
        url: str,
        headers: Any,
        data: bytes | None,
        timeout: aiohttp.ClientTimeout,
        server_hostname: str | None,
    ) -> Any:
        return self.session().request(
            method,
            url,
            headers=headers,
            data=data,
            allow_redirects=False,
            auto_decompress=False,
            compress=False,
            timeout=timeout,
            server_hostname=server_hostname,
        )

    def timeout_for(self, timeout: dict[str, Any]) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts for httpx's timeout extension, as the adapter maps them."""
        key = (timeout.get("connect"), timeout.get("read"), timeout.get("pool"))
        found = self._timeouts.get(key)
        if found is None:
            found = aiohttp.ClientTimeout(sock_connect=key[0], sock_read=key[1], connect=key[2])
            self._timeouts[key] = found
        return found


async def _read(response: aiohttp.ClientResponse) -> bytes:
    try:
        return await response.read()
    finally:
        response.release()
