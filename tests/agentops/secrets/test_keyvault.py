"""The Key Vault adapter against the local stand-in of the secrets REST API."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from agentops.secrets import KeyVaultSecrets, SecretNotFound, SecretUnavailable, require
from tests.keyvault_standin import (
    VAULT_RESOURCE,
    FixedTokenCredential,
    KeyVaultStandIn,
    client_options,
    start_standin,
)


async def test_reads_the_latest_version_after_the_challenge(
    standin: KeyVaultStandIn, credential: FixedTokenCredential, vault: KeyVaultSecrets
) -> None:
    standin.set_secret("model-api-key", "sk-old")
    standin.set_secret("model-api-key", "sk-current")

    value = await vault.get("MODEL_API_KEY")

    assert isinstance(value, SecretStr)
    assert value.get_secret_value() == "sk-current"
    assert "sk-current" not in repr(value)
    # The first request goes without a token and is challenged; the retry carries the token
    # asked for the challenge's resource and tenant.
    assert [(s.authorization, s.status) for s in standin.seen] == [
        (None, 401),
        ("Bearer standin-token", 200),
    ]
    assert credential.calls == [((f"{VAULT_RESOURCE}/.default",), standin.tenant)]
    # The challenge is remembered: the next read is authorised at once.
    await vault.get("MODEL_API_KEY")
    assert standin.seen[-1].authorization == "Bearer standin-token"
    assert len(standin.seen) == 3


async def test_a_missing_secret_is_none_and_a_clear_error_when_required(
    standin: KeyVaultStandIn, vault: KeyVaultSecrets
) -> None:
    assert await vault.get("BACKUP_ENCRYPTION_KEY") is None
    assert standin.seen[-1].status == 404

    with pytest.raises(SecretNotFound) as raised:
        await require(vault, "BACKUP_ENCRYPTION_KEY")
    message = str(raised.value)
    assert "BACKUP_ENCRYPTION_KEY" in message
    assert "backup-encryption-key" in message
    assert standin.url in message


async def test_a_wrong_token_is_refused(standin: KeyVaultStandIn) -> None:
    standin.set_secret("cosmos-key", "cosmos-secret-value")
    credential = FixedTokenCredential("not-the-vaults-token")
    vault = KeyVaultSecrets.connect(standin.url, credential, **client_options(standin))
    try:
        with pytest.raises(SecretUnavailable) as raised:
            await vault.get("COSMOS_KEY")
    finally:
        await vault.aclose()
    assert "HTTP 401" in str(raised.value)
    assert "cosmos-key" in str(raised.value)
    assert standin.fetches("cosmos-key") == 0
    assert "Bearer not-the-vaults-token" in {s.authorization for s in standin.seen}
    assert credential.closed  # the adapter owns the credential it was connected with


async def test_a_challenge_for_another_resource_gets_no_token(tmp_path: Path) -> None:
    # A server that is not the vault it claims to be must not obtain a token for another
    # resource: the SDK checks the challenge's resource against the vault's domain.
    standin = await start_standin(tmp_path, resource="https://management.azure.com")
    credential = FixedTokenCredential()
    vault = KeyVaultSecrets.connect(standin.url, credential, **client_options(standin))
    try:
        with pytest.raises(SecretUnavailable, match="does not match"):
            await vault.get("MODEL_API_KEY")
    finally:
        await vault.aclose()
        await standin.stop()
    assert credential.calls == []
    assert all(s.authorization is None for s in standin.seen)


async def test_an_unreachable_vault_names_the_secret_and_the_vault(
    standin: KeyVaultStandIn, vault: KeyVaultSecrets
) -> None:
    await standin.stop()
    with pytest.raises(SecretUnavailable) as raised:
        await vault.get("CACHE_ENCRYPTION_KEY")
    assert "CACHE_ENCRYPTION_KEY" in str(raised.value)
    assert standin.url in str(raised.value)
    assert "ServiceRequestError" in str(raised.value)


async def test_a_name_outside_the_mapping_is_refused(vault: KeyVaultSecrets) -> None:
    with pytest.raises(ValueError, match="unknown secret"):
        await vault.get("model-api-key")


def test_only_https_vaults(credential: FixedTokenCredential) -> None:
    with pytest.raises(ValueError, match="https"):
        KeyVaultSecrets.connect("http://example.vault.azure.net", credential)
