"""The one mapping from the app's secret names to their names in Key Vault.

App settings use UPPER_SNAKE names; Key Vault allows only letters, digits and dashes. A name not
listed here is refused rather than guessed, so a typo fails where it is made.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

SECRET_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "MODEL_API_KEY": "model-api-key",
        "CACHE_ENCRYPTION_KEY": "cache-encryption-key",
        "BACKUP_ENCRYPTION_KEY": "backup-encryption-key",
        "DATA_ENCRYPTION_KEYS": "data-encryption-keys",
        "COSMOS_KEY": "cosmos-key",
    }
)

# Key Vault's rule for secret names: 1 to 127 letters, digits and dashes.
VAULT_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")


def vault_name(name: str) -> str:
    """The Key Vault name of the app's secret ``name``."""
    try:
        return SECRET_NAMES[name]
    except KeyError:
        known = ", ".join(SECRET_NAMES)
        raise ValueError(f"unknown secret {name!r}; known secrets: {known}") from None
