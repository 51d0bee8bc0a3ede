"""The backup encryption keys: a ring of AES-256 keys by id, one of them active.

`BACKUP_ENCRYPTION_KEY` has the data key ring's format, ``{"active": "<id>", "keys": {"<id>":
"<base64 of 32 bytes>"}}``: new backups use the active key, and older keys stay in the ring for
as long as backups made with them are kept, so rotating the key never strands a backup.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

KEY_SETTING = "BACKUP_ENCRYPTION_KEY"
KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class BackupKeyError(LookupError):
    """A backup names a key id that the ring does not hold."""


class BackupKeys:
    def __init__(self, active: str, keys: Mapping[str, bytes]) -> None:
        for key_id, key in keys.items():
            if not _KEY_ID.match(key_id):
                raise ValueError(f"{KEY_SETTING}: key id {key_id!r} must match {_KEY_ID.pattern}")
            if len(key) != KEY_BYTES:
                raise ValueError(f"{KEY_SETTING}: key {key_id!r} must be {KEY_BYTES} bytes")
        if active not in keys:
            raise ValueError(f"{KEY_SETTING}: the active key {active!r} is not among the keys")
        self.active = active
        self._aeads = {key_id: AESGCM(key) for key_id, key in keys.items()}

    @classmethod
    def from_secret(cls, value: SecretStr | None) -> BackupKeys:
        """Parse the setting; errors name the setting and key id, never a key."""
        if value is None:
            raise ValueError(f"{KEY_SETTING} is not set: backups are always encrypted")
        try:
            doc = json.loads(value.get_secret_value())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{KEY_SETTING} is not JSON: {exc.msg}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), dict):
            raise ValueError(f'{KEY_SETTING} must be {{"active": "<id>", "keys": {{"<id>": ...}}}}')
        active = doc.get("active")
        if not isinstance(active, str):
            raise ValueError(f'{KEY_SETTING}: "active" must be a key id')
        keys: dict[str, bytes] = {}
        for key_id, encoded in doc["keys"].items():
            try:
                keys[str(key_id)] = base64.b64decode(str(encoded), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"{KEY_SETTING}: key {key_id!r} is not base64") from None
        return cls(active, keys)

    def aead(self, key_id: str) -> AESGCM:
        try:
            return self._aeads[key_id]
        except KeyError:
            raise BackupKeyError(f"{KEY_SETTING} holds no key {key_id!r}") from None

    def __repr__(self) -> str:
        return f"BackupKeys(active={self.active!r}, key_ids={sorted(self._aeads)!r})"
