"""Secrets through one port: app settings (and the Key Vault references that land there), then
Key Vault behind a TTL cache when a vault is named. Values are ``SecretStr`` throughout."""

from agentops.secrets.cache import CachedSecrets
from agentops.secrets.environment import EnvironmentSecrets
from agentops.secrets.keyvault import KeyVaultSecrets
from agentops.secrets.layered import LayeredSecrets
from agentops.secrets.names import SECRET_NAMES, vault_name
from agentops.secrets.port import SecretNotFound, SecretProvider, SecretUnavailable, require

__all__ = [
    "SECRET_NAMES",
    "CachedSecrets",
    "EnvironmentSecrets",
    "KeyVaultSecrets",
    "LayeredSecrets",
    "SecretNotFound",
    "SecretProvider",
    "SecretUnavailable",
    "require",
    "vault_name",
]
