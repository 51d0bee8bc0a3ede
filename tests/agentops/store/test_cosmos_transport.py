"""The Cosmos client trusts the environment's proxy and netrc settings only when it names some:
trusting it costs two thread-pool hand-offs on every request. A proxy that is named is used."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import ClientProxyConnectionError
from azure.core.exceptions import ServiceRequestError

from agentops.store.cosmos.connection import environment_configures_http

from .conftest import EMULATOR_KEY, CosmosServer

_PROXY_SETTINGS = [
    variant
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    for variant in (name, name.upper())
]


@pytest.fixture
def bare_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No proxy setting, no NETRC, and a home without a .netrc."""
    for name in _PROXY_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("NETRC", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_an_environment_without_proxy_or_netrc_is_not_read_per_request(bare_home: Path) -> None:
    assert environment_configures_http() is False


@pytest.mark.parametrize("name", ["HTTPS_PROXY", "http_proxy", "ALL_PROXY", "NO_PROXY"])
def test_a_proxy_setting_is_honoured(
    bare_home: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "http://proxy.example:3128")
    assert environment_configures_http() is True


def test_a_netrc_file_is_honoured(bare_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (bare_home / ".netrc").write_text("machine cosmos.example login a password b\n")
    assert environment_configures_http() is True
    (bare_home / ".netrc").unlink()
    named = bare_home / "elsewhere"
    named.write_text("machine cosmos.example login a password b\n")
    monkeypatch.setenv("NETRC", str(named))
    assert environment_configures_http() is True


@pytest.mark.cosmos
async def test_the_store_goes_through_a_proxy_the_environment_names(
    cosmos_server: CosmosServer, bare_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentops.store.cosmos import CosmosStore

    # Nothing listens on the discard port: a client that honours the proxy cannot reach the server.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    store = CosmosStore(
        cosmos_server.endpoint, EMULATOR_KEY, "proxied", enable_endpoint_discovery=False
    )
    with pytest.raises(ServiceRequestError) as refused:
        await store.__aenter__()
    await store.close()
    assert isinstance(refused.value.inner_exception, ClientProxyConnectionError)
