"""The backup encryption keys: a ring of AES-256 keys by id, one of them active.

`BACKUP_ENCRYPTION_KEY` has the data key ring's format, ``{"active": "<id>", "keys": {"<id>":
"<base64 of 32 bytes>"}}``: new backups use the active key, and older keys stay in the ring for
as long as backups made with them are kept, so rotating the key never strands a backup.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

from agentops.encryption.keyring import KeyRing

KEY_SETTING = "BACKUP_ENCRYPTION_KEY"


class BackupKeyError(LookupError):
    """A backup names a key id that the ring does not hold."""


class BackupKeys:
    """The data key ring's parsing and checks, under the backup key's own setting name."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    @classmethod
    def from_secret(cls, value: SecretStr | None) -> BackupKeys:
        """Parse the setting; errors name the setting and key id, never a key."""
        if value is None:
            raise ValueError(f"{KEY_SETTING} is not set: backups are always encrypted")
        return cls(KeyRing.from_secret(value, setting=KEY_SETTING))

    @property
    def active(self) -> str:
        return self._ring.active

    def aead(self, key_id: str) -> AESGCM:
        try:
            return self._ring.aead(key_id)
        except KeyError:
            raise BackupKeyError(f"{KEY_SETTING} holds no key {key_id!r}") from None

    def __repr__(self) -> str:
        return f"BackupKeys(active={self.active!r}, key_ids={sorted(self._ring.key_ids)!r})"
