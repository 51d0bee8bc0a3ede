"""Secrets from app settings: the embedded default, and where Key Vault references land.

In Azure an app setting ``MODEL_API_KEY=@Microsoft.KeyVault(SecretUri=...)`` reaches the process
as an environment variable holding the secret's value, so this adapter serves both a literal
setting and a Key Vault reference. The values are read once, like every other app setting.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from agentops.secrets.names import SECRET_NAMES, vault_name


class EnvironmentSecrets:
    source = "app settings"

    def __init__(self, values: Mapping[str, str | SecretStr | None]) -> None:
        self._values: dict[str, SecretStr] = {}
        for name, value in values.items():
            if name not in SECRET_NAMES:
                continue
            plain = value.get_secret_value() if isinstance(value, SecretStr) else value
            if plain:  # Azure leaves an unset setting as ""
                self._values[name] = SecretStr(plain)

    async def get(self, name: str) -> SecretStr | None:
        vault_name(name)  # refuses a name that is not in the mapping
        return self._values.get(name)

    async def aclose(self) -> None:
        return None
