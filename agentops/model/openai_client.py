"""One OpenAI SDK client per model endpoint: a single connection pool, reused by every call.

The SDK's own retries are off (``max_retries=0``): the model path has one retry budget per item,
and a second layer of retries inside the SDK would multiply it and hide ``retry-after``. Every
call gets an explicit timeout instead of the SDK's ten-minute default.

Two transports: the SDK's default httpx client, or its aiohttp client (``openai[aiohttp]``),
which holds up better with many concurrent requests on one event loop; on aiohttp, answers that
are not streamed are read whole inside the transport (``agentops.model.aiohttp_transport``).

Chat completion requests skip the SDK's type walk over messages and tools where it changes
nothing (``agentops.model.request_body``); on aiohttp, those not streamed are sent on the
transport's session without the SDK's per-request httpx machinery, as the SDK would send them
(``agentops.model.direct_post``).

A key is a ``SecretStr`` or an async callable returning one: the SDK awaits the callable before
every request, so a key rotated in Key Vault is used as soon as the secret cache reads it,
without a new client or a restart.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING

import httpx2
from openai import AsyncAzureOpenAI, AsyncOpenAI, DefaultAioHttpClient, DefaultAsyncHttpxClient
from pydantic import SecretStr

from agentops.model.aiohttp_transport import WholeAnswerAiohttpTransport
from agentops.model.direct_post import post_directly
from agentops.model.request_body import skip_type_walk

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.core.credentials_async import AsyncTokenCredential

logger = logging.getLogger(__name__)

AZURE_OPENAI_SCOPE = "https://cognitiveservices.azure.com/.default"
DEFAULT_AZURE_API_VERSION = "2024-10-21"


# A fixed key, or one read (through the secret cache) before each request.
ApiKey = SecretStr | Callable[[], Awaitable[SecretStr]]


class Transport(StrEnum):
    HTTPX = "httpx"
    AIOHTTP = "aiohttp"


class ModelConnection:
    """An endpoint and the SDK client (connection pool) that talks to it.

    Build one per endpoint with ``openai_compatible`` or ``azure`` and share it; ``aclose`` it on
    shutdown. The SDK client is ``client``.
    """

    def __init__(self, client: AsyncOpenAI, *, label: str, transport: Transport) -> None:
        skip_type_walk(client)
        if transport is Transport.AIOHTTP:
            post_directly(client)
        self.client = client
        self.label = label
        self.transport = transport

    @classmethod
    def openai_compatible(
        cls,
        *,
        base_url: str,
        api_key: ApiKey,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        transport: Transport | str = Transport.HTTPX,
        max_connections: int = 256,
    ) -> ModelConnection:
        """Any endpoint that speaks the OpenAI API (``base_url`` ends in ``/v1``)."""
        _check_url(base_url, "base_url")
        transport = Transport(transport)
        client = AsyncOpenAI(
            base_url=base_url,
            api_key=_sdk_key(api_key),
            max_retries=0,
            timeout=_timeout(timeout_s, connect_timeout_s),
            http_client=_http_client(transport, timeout_s, connect_timeout_s, max_connections),
        )
        logger.info("model endpoint %s via %s", base_url, transport.value)
        return cls(client, label=base_url, transport=transport)

    @classmethod
    def azure(
        cls,
        *,
        azure_endpoint: str,
        credential: AsyncTokenCredential | TokenCredential | None = None,
        api_key: ApiKey | None = None,
        api_version: str = DEFAULT_AZURE_API_VERSION,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        transport: Transport | str = Transport.HTTPX,
        max_connections: int = 256,
    ) -> ModelConnection:
        """Azure OpenAI, with Entra ID (``credential``, preferred) or a key: exactly one."""
        _check_url(azure_endpoint, "azure_endpoint")
        transport = Transport(transport)
        if (credential is None) == (api_key is None):
            raise ValueError("pass exactly one of credential (Entra ID) or api_key")
        if not api_version:
            raise ValueError("api_version must not be empty")
        http_client = _http_client(transport, timeout_s, connect_timeout_s, max_connections)
        common = {
            "azure_endpoint": azure_endpoint,
            "api_version": api_version,
            "max_retries": 0,
            "timeout": _timeout(timeout_s, connect_timeout_s),
            "http_client": http_client,
        }
        if api_key is not None:
            client = AsyncAzureOpenAI(api_key=_sdk_key(api_key), **common)
            auth = "key"
        else:
            client = AsyncAzureOpenAI(azure_ad_token_provider=_token_provider(credential), **common)
            auth = "Entra ID"
        logger.info("model endpoint %s (Azure, %s) via %s", azure_endpoint, auth, transport.value)
        return cls(client, label=azure_endpoint, transport=transport)

    async def aclose(self) -> None:
        """Close the connection pool; the credential, if any, belongs to the caller."""
        await self.client.close()


def _sdk_key(api_key: ApiKey) -> str | Callable[[], Awaitable[str]]:
    if isinstance(api_key, SecretStr):
        return api_key.get_secret_value()

    async def current() -> str:
        return (await api_key()).get_secret_value()

    return current


def _token_provider(
    credential: AsyncTokenCredential | TokenCredential | None,
) -> Callable[[], str | Awaitable[str]]:
    """A bearer-token callable that caches and refreshes tokens, for sync or async credentials."""
    if credential is None:
        raise ValueError("a credential is required for Entra ID")
    if inspect.iscoroutinefunction(credential.get_token):
        from azure.identity.aio import get_bearer_token_provider as async_provider

        return async_provider(credential, AZURE_OPENAI_SCOPE)  # type: ignore[arg-type]
    from azure.identity import get_bearer_token_provider

    return get_bearer_token_provider(credential, AZURE_OPENAI_SCOPE)  # type: ignore[arg-type]


def _timeout(timeout_s: float, connect_timeout_s: float) -> httpx2.Timeout:
    if timeout_s <= 0 or connect_timeout_s <= 0:
        raise ValueError("timeouts must be positive")
    return httpx2.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s))


def _http_client(
    transport: Transport, timeout_s: float, connect_timeout_s: float, max_connections: int
) -> httpx2.AsyncClient:
    if max_connections < 1:
        raise ValueError("max_connections must be at least 1")
    # Keep-alive for every connection: a batch reuses them all, and reconnecting costs a
    # round trip (a TLS handshake against Azure) per request.
    limits = httpx2.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    timeout = _timeout(timeout_s, connect_timeout_s)
    if transport is Transport.AIOHTTP:
        return DefaultAioHttpClient(
            limits=limits, timeout=timeout, transport=WholeAnswerAiohttpTransport(limits=limits)
        )
    return DefaultAsyncHttpxClient(limits=limits, timeout=timeout)


def _check_url(url: str, name: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{name} must be an http(s) URL, not {url!r}")
