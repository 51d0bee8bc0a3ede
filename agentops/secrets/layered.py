"""Several providers behind one: the first that has the secret wins."""

from __future__ import annotations

from pydantic import SecretStr

from agentops.secrets.port import SecretProvider


class LayeredSecrets:
    """The first provider that has the secret wins.

    App settings come first: a setting the operator made (a literal or a Key Vault reference) is
    their explicit word, and the vault serves every secret that no setting names.
    """

    def __init__(self, *providers: SecretProvider) -> None:
        if not providers:
            raise ValueError("at least one provider is required")
        self._providers = providers

    @property
    def source(self) -> str:
        return ", then ".join(p.source for p in self._providers)

    async def get(self, name: str) -> SecretStr | None:
        for provider in self._providers:
            value = await provider.get(name)
            if value is not None:
                return value
        return None

    async def aclose(self) -> None:
        for provider in self._providers:
            await provider.aclose()
