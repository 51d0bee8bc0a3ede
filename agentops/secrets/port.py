"""The secret provider port, its errors, and the one way to insist on a secret."""

from __future__ import annotations

from typing import Protocol

from pydantic import SecretStr

from agentops.secrets.names import vault_name


class SecretProvider(Protocol):
    """Reads a secret by the app's name (``MODEL_API_KEY``); None when it is not set."""

    @property
    def source(self) -> str:
        """Where values come from, for error messages: never a value."""
        ...

    async def get(self, name: str) -> SecretStr | None: ...

    async def aclose(self) -> None: ...


class SecretNotFound(LookupError):
    """A required secret is not set anywhere the provider looks."""

    def __init__(self, name: str, source: str) -> None:
        super().__init__(
            f"secret {name} (Key Vault name {vault_name(name)}) is not set in {source}"
        )
        self.name = name


class SecretUnavailable(RuntimeError):
    """The secret store could not be read (unreachable, refused, throttled)."""

    def __init__(self, name: str, source: str, reason: str) -> None:
        super().__init__(
            f"cannot read secret {name} (Key Vault name {vault_name(name)}) from {source}: {reason}"
        )
        self.name = name


async def require(provider: SecretProvider, name: str) -> SecretStr:
    """The secret's value, or SecretNotFound naming the secret and where it was looked for."""
    value = await provider.get(name)
    if value is None:
        raise SecretNotFound(name, provider.source)
    return value
