"""Encryption at rest of sensitive agents' data: AES-GCM under a key ring with key ids."""

from agentops.encryption.keyring import (
    KEY_SETTING,
    DecryptionError,
    EncryptionUnavailableError,
    KeyRing,
)
from agentops.encryption.records import RecordSealer

__all__ = [
    "KEY_SETTING",
    "DecryptionError",
    "EncryptionUnavailableError",
    "KeyRing",
    "RecordSealer",
]
