"""Secrets wired into the app: the model key read before each request (rotation without a
restart), the start-up secrets, the provider chosen from settings, settings-held secrets."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from agentops.bootstrap import build_services, open_model_connection, open_secrets, open_services
from agentops.model.openai_client import ModelConnection
from agentops.secrets import (
    CachedSecrets,
    EnvironmentSecrets,
    KeyVaultSecrets,
    LayeredSecrets,
    SecretNotFound,
)
from agentops.settings import Settings
from tests.agentops.secrets.conftest import Clock
from tests.keyvault_standin import FixedTokenCredential, KeyVaultStandIn, client_options

_COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
}


class ModelEndpoint:
    """An OpenAI-compatible endpoint on loopback that remembers each request's credentials."""

    def __init__(self) -> None:
        self.keys: list[str | None] = []
        self.url = ""

    async def _chat(self, request: web.Request) -> web.Response:
        self.keys.append(request.headers.get("Authorization") or request.headers.get("api-key"))
        return web.json_response(_COMPLETION)


@pytest.fixture
async def endpoint() -> AsyncIterator[ModelEndpoint]:
    model = ModelEndpoint()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", model._chat)
    app.router.add_post("/openai/deployments/{name}/chat/completions", model._chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    model.url = f"http://127.0.0.1:{port}"
    yield model
    await runner.cleanup()


async def _ask(connection: ModelConnection, model: str = "m") -> None:
    await connection.client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )


async def test_a_key_rotated_in_the_vault_is_used_without_a_new_client(
    endpoint: ModelEndpoint,
    standin: KeyVaultStandIn,
    vault: KeyVaultSecrets,
    clock: Clock,
) -> None:
    standin.set_secret("model-api-key", "sk-before")
    secrets = LayeredSecrets(EnvironmentSecrets({}), CachedSecrets(vault, ttl_s=60, clock=clock))
    settings = Settings(MODEL_ENDPOINT=f"{endpoint.url}/v1", KEY_VAULT_URL=standin.url)
    connection = open_model_connection(settings, secrets)
    try:
        await _ask(connection)
        standin.set_secret("model-api-key", "sk-after")
        await _ask(connection)  # within the TTL: the cached key
        clock.advance(60)
        await _ask(connection)
    finally:
        await connection.aclose()
    assert endpoint.keys == ["Bearer sk-before", "Bearer sk-before", "Bearer sk-after"]


async def test_azure_openai_with_a_key_reads_it_before_each_request(
    endpoint: ModelEndpoint,
) -> None:
    keys = iter(["k1", "k2"])

    async def key() -> SecretStr:
        return SecretStr(next(keys))

    connection = ModelConnection.azure(azure_endpoint=endpoint.url, api_key=key)
    try:
        await _ask(connection, "deployment")
        await _ask(connection, "deployment")
    finally:
        await connection.aclose()
    assert endpoint.keys == ["k1", "k2"]


async def test_a_missing_vault_key_fails_the_request_naming_the_secret(
    endpoint: ModelEndpoint, standin: KeyVaultStandIn, vault: KeyVaultSecrets
) -> None:
    settings = Settings(MODEL_ENDPOINT="https://models.example.com/v1", KEY_VAULT_URL=standin.url)
    connection = open_model_connection(settings, LayeredSecrets(EnvironmentSecrets({}), vault))
    try:
        with pytest.raises(SecretNotFound, match="MODEL_API_KEY"):
            await _ask(connection)
    finally:
        await connection.aclose()
    assert endpoint.keys == []


async def test_settings_held_secrets_keep_working_without_a_vault(
    endpoint: ModelEndpoint, tmp_path: Path
) -> None:
    settings = Settings(
        MODEL_ENDPOINT=f"{endpoint.url}/v1",
        MODEL_API_KEY="sk-from-settings",
        SQLITE_PATH=tmp_path / "agentops.db",
        CACHE_ENCRYPTION_KEY=base64.b64encode(b"k" * 32).decode(),
    )
    services = build_services(settings)
    try:
        assert isinstance(services.secrets, EnvironmentSecrets)
        cache_key = await services.secret("CACHE_ENCRYPTION_KEY")
        assert cache_key == settings.cache_encryption_key
        await _ask(services.connection)
    finally:
        await services.aclose()
    assert endpoint.keys == ["Bearer sk-from-settings"]


async def test_the_local_simulator_needs_no_key(endpoint: ModelEndpoint) -> None:
    connection = open_model_connection(Settings(MODEL_ENDPOINT=f"{endpoint.url}/v1"))
    try:
        await _ask(connection)
    finally:
        await connection.aclose()
    assert endpoint.keys == ["Bearer not-checked-by-local-endpoints"]
    with pytest.raises(ValueError, match="MODEL_API_KEY is required"):
        open_model_connection(Settings(MODEL_ENDPOINT="https://models.example.com/v1"))


async def test_start_up_secrets_come_from_the_vault(
    standin: KeyVaultStandIn, tmp_path: Path
) -> None:
    standin.set_secret("cache-encryption-key", base64.b64encode(b"v" * 32).decode())
    standin.set_secret("backup-encryption-key", "backup-key")
    settings = Settings(KEY_VAULT_URL=standin.url, SQLITE_PATH=tmp_path / "agentops.db")
    credential = FixedTokenCredential()
    services = await open_services(
        settings, open_secrets(settings, credential=credential, **client_options(standin))
    )
    try:
        assert standin.fetches("cache-encryption-key") == 1
        backup = await services.secret("BACKUP_ENCRYPTION_KEY")
        assert backup is not None and backup.get_secret_value() == "backup-key"
        assert await services.secret("DATA_ENCRYPTION_KEYS") is None
    finally:
        await services.aclose()
    assert credential.closed
    with pytest.raises(ValueError, match="open_services"):
        build_services(settings)


@pytest.mark.parametrize("variable", ["KEY_VAULT_URL", "AZURE_KEY_VAULT_ENDPOINT"])
async def test_naming_a_vault_puts_it_behind_app_settings(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "https://example.vault.azure.net/")
    monkeypatch.setenv("BACKUP_ENCRYPTION_KEY", "from-the-environment")
    settings = Settings()
    secrets: Any = open_secrets(settings, credential=FixedTokenCredential())
    try:
        assert isinstance(secrets, LayeredSecrets)
        assert secrets.source == "app settings, then Key Vault https://example.vault.azure.net"
        backup = await secrets.get("BACKUP_ENCRYPTION_KEY")  # from app settings: no request
        assert backup is not None and backup.get_secret_value() == "from-the-environment"
    finally:
        await secrets.aclose()
