"""ModelConnection: the SDK client it builds, and the arguments it refuses."""

from __future__ import annotations

import httpx2
import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI
from openai._base_client import _DefaultAioHttpClient, _DefaultAsyncHttpxClient
from pydantic import SecretStr

from agentops.model.aiohttp_transport import WholeAnswerAiohttpTransport
from agentops.model.openai_client import ModelConnection, Transport


@pytest.mark.parametrize(
    ("transport", "http_client_type"),
    [("httpx", _DefaultAsyncHttpxClient), ("aiohttp", _DefaultAioHttpClient)],
)
async def test_openai_compatible_client_has_no_retries_and_an_explicit_timeout(
    transport: str, http_client_type: type
) -> None:
    connection = ModelConnection.openai_compatible(
        base_url="http://127.0.0.1:9/v1",
        api_key=SecretStr("k"),
        timeout_s=7.5,
        connect_timeout_s=2,
        transport=transport,
    )
    try:
        client = connection.client
        assert type(client) is AsyncOpenAI
        assert client.max_retries == 0
        assert isinstance(client.timeout, httpx2.Timeout)
        assert client.timeout.read == 7.5
        assert client.timeout.connect == 2
        assert isinstance(client._client, http_client_type)
        if transport == "aiohttp":  # answers read whole inside the transport
            assert isinstance(client._client._transport, WholeAnswerAiohttpTransport)
        assert connection.transport is Transport(transport)
    finally:
        await connection.aclose()


async def test_azure_with_key() -> None:
    connection = ModelConnection.azure(
        azure_endpoint="https://example.openai.azure.com",
        api_key=SecretStr("k"),
        api_version="2024-10-21",
    )
    try:
        assert isinstance(connection.client, AsyncAzureOpenAI)
        assert connection.client.max_retries == 0
        assert connection.client._api_version == "2024-10-21"
    finally:
        await connection.aclose()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="base_url"):
        ModelConnection.openai_compatible(base_url="localhost:9", api_key=SecretStr("k"))
    with pytest.raises(ValueError, match="timeouts"):
        ModelConnection.openai_compatible(
            base_url="http://h/v1", api_key=SecretStr("k"), timeout_s=0
        )
    with pytest.raises(ValueError):
        ModelConnection.openai_compatible(
            base_url="http://h/v1", api_key=SecretStr("k"), transport="carrier-pigeon"
        )
    with pytest.raises(ValueError, match="exactly one"):
        ModelConnection.azure(azure_endpoint="https://x.openai.azure.com")
    with pytest.raises(ValueError, match="exactly one"):
        ModelConnection.azure(
            azure_endpoint="https://x.openai.azure.com",
            api_key=SecretStr("k"),
            credential=object(),  # type: ignore[arg-type]
        )
