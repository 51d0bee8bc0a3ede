"""Secrets from Azure Key Vault, through the SDK's async ``SecretClient``.

Reads the latest version of each secret on every call; the cache in front of it decides how often
that happens. The client authenticates with the credential the composition root gives it (the
app's managed identity in Azure) through the SDK's challenge policy, which also checks that the
vault's challenge names a Key Vault resource before any token is sent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from pydantic import SecretStr

from agentops.secrets.names import vault_name
from agentops.secrets.port import SecretUnavailable

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential
    from azure.keyvault.secrets.aio import SecretClient

logger = logging.getLogger(__name__)

# A secret is read on the request path: a few quick retries, never the SDK's default of ten
# with back-off up to two minutes. The cache's grace period covers longer outages.
_CLIENT_DEFAULTS: dict[str, Any] = {
    "retry_total": 2,
    "retry_backoff_factor": 0.5,
    "connection_timeout": 5,
    "read_timeout": 10,
}


class KeyVaultSecrets:
    """One vault. Owns its client and the credential it was connected with."""

    def __init__(
        self, client: SecretClient, credential: AsyncTokenCredential | None = None
    ) -> None:
        self._client = client
        self._credential = credential
        self._versions: dict[str, str | None] = {}

    @classmethod
    def connect(
        cls, vault_url: str, credential: AsyncTokenCredential, **client_options: Any
    ) -> KeyVaultSecrets:
        """A client for ``vault_url``; ``client_options`` go to the SDK (transport, retries)."""
        if not vault_url.startswith("https://"):
            raise ValueError(f"vault_url must be an https URL, not {vault_url!r}")
        from azure.keyvault.secrets.aio import SecretClient

        client = SecretClient(vault_url, credential, **{**_CLIENT_DEFAULTS, **client_options})
        return cls(client, credential)

    @property
    def source(self) -> str:
        return f"Key Vault {self._client.vault_url}"

    async def get(self, name: str) -> SecretStr | None:
        remote = vault_name(name)
        try:
            secret = await self._client.get_secret(remote)
        except ResourceNotFoundError:
            return None
        except HttpResponseError as exc:
            raise SecretUnavailable(name, self.source, _reason(exc)) from exc
        except (AzureError, ValueError) as exc:
            # ValueError: the challenge policy refused a challenge that names another resource.
            raise SecretUnavailable(name, self.source, _first_line(exc)) from exc
        version = secret.properties.version
        if self._versions.get(name, version) != version:
            logger.info("secret %s: new version %s in %s", name, version, self.source)
        self._versions[name] = version
        return None if secret.value is None else SecretStr(secret.value)

    async def aclose(self) -> None:
        await self._client.close()
        if self._credential is not None:
            await self._credential.close()


def _reason(exc: HttpResponseError) -> str:
    code = exc.error.code if exc.error is not None else None
    return f"HTTP {exc.status_code}" + (f" {code}" if code else "")


def _first_line(exc: Exception) -> str:
    # The SDK's messages name hosts and causes, never a secret's value; keep them short.
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
