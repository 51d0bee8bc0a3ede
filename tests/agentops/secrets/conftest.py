"""Fixtures for the secret provider: a running Key Vault stand-in and a clock tests move."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentops.secrets import KeyVaultSecrets
from tests.keyvault_standin import (
    FixedTokenCredential,
    KeyVaultStandIn,
    client_options,
    start_standin,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def standin(tmp_path: Path) -> AsyncIterator[KeyVaultStandIn]:
    server = await start_standin(tmp_path)
    yield server
    await server.stop()


@pytest.fixture
def credential() -> FixedTokenCredential:
    return FixedTokenCredential()


@pytest.fixture
async def vault(
    standin: KeyVaultStandIn, credential: FixedTokenCredential
) -> AsyncIterator[KeyVaultSecrets]:
    secrets = KeyVaultSecrets.connect(standin.url, credential, **client_options(standin))
    yield secrets
    await secrets.aclose()
