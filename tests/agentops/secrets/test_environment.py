"""App-settings secrets, the names mapping, and settings taking precedence over the vault."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from agentops.secrets import (
    SECRET_NAMES,
    EnvironmentSecrets,
    KeyVaultSecrets,
    LayeredSecrets,
    SecretNotFound,
    require,
    vault_name,
)
from agentops.secrets.names import VAULT_NAME
from tests.keyvault_standin import KeyVaultStandIn


def test_every_vault_name_is_one_key_vault_accepts() -> None:
    assert set(SECRET_NAMES) >= {
        "MODEL_API_KEY",
        "CACHE_ENCRYPTION_KEY",
        "BACKUP_ENCRYPTION_KEY",
        "DATA_ENCRYPTION_KEYS",
        "COSMOS_KEY",
    }
    for name, remote in SECRET_NAMES.items():
        assert VAULT_NAME.fullmatch(remote), name
    assert len(set(SECRET_NAMES.values())) == len(SECRET_NAMES)
    assert vault_name("MODEL_API_KEY") == "model-api-key"
    with pytest.raises(ValueError, match="MODEL_API_KEY"):
        vault_name("MODEL_APIKEY")


async def test_app_settings_serve_mapped_names_and_treat_empty_as_unset() -> None:
    secrets = EnvironmentSecrets(
        {
            "MODEL_API_KEY": "sk-env",
            "CACHE_ENCRYPTION_KEY": SecretStr("c2VjcmV0"),
            "COSMOS_KEY": "",
            "PATH": "/usr/bin",
        }
    )
    key = await secrets.get("MODEL_API_KEY")
    assert key is not None and key.get_secret_value() == "sk-env"
    cache_key = await secrets.get("CACHE_ENCRYPTION_KEY")
    assert cache_key is not None and cache_key.get_secret_value() == "c2VjcmV0"
    assert await secrets.get("COSMOS_KEY") is None
    with pytest.raises(SecretNotFound, match=r"COSMOS_KEY.*app settings"):
        await require(secrets, "COSMOS_KEY")
    with pytest.raises(ValueError, match="unknown secret"):
        await secrets.get("PATH")


async def test_an_app_setting_wins_over_the_vault_which_serves_the_rest(
    standin: KeyVaultStandIn, vault: KeyVaultSecrets
) -> None:
    standin.set_secret("model-api-key", "sk-vault")
    standin.set_secret("backup-encryption-key", "backup-vault")
    secrets = LayeredSecrets(EnvironmentSecrets({"MODEL_API_KEY": "sk-setting"}), vault)

    key = await secrets.get("MODEL_API_KEY")
    backup = await secrets.get("BACKUP_ENCRYPTION_KEY")

    assert key is not None and key.get_secret_value() == "sk-setting"
    assert backup is not None and backup.get_secret_value() == "backup-vault"
    assert standin.fetches("model-api-key") == 0
    assert await secrets.get("COSMOS_KEY") is None
    with pytest.raises(SecretNotFound) as raised:
        await require(secrets, "COSMOS_KEY")
    assert f"app settings, then Key Vault {standin.url}" in str(raised.value)
