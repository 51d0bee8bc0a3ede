"""AES-GCM under a ring of keys with ids: the one encryption primitive of the app.

A sealed value is a self-describing string, ``enc:v1:<key id>:<nonce>:<ciphertext>`` (base64url),
so a reader knows the format and the key that sealed it without trying every key. Associated data
(the format, the key id and a context naming the value's tenant, record and field) is
authenticated with it: a value copied to another record, field or tenant fails to decrypt.

The ring has one active key for new values; older keys still decrypt until a re-encryption moves
their values to the active key, after which they can be dropped.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

FORMAT = "v1"
PREFIX = f"enc:{FORMAT}:"
NONCE_BYTES = 12  # AES-GCM's standard nonce; random per value
KEY_BYTES = 32  # AES-256
KEY_SETTING = "DATA_ENCRYPTION_KEYS"
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class EncryptionUnavailableError(RuntimeError):
    """No data encryption keys are configured, so a sensitive agent's data cannot be stored."""


class DecryptionError(ValueError):
    """A sealed value cannot be opened: unknown key, damaged, or moved from another record."""


def seal_bytes(aead: AESGCM, plaintext: bytes, associated_data: bytes) -> bytes:
    """Nonce followed by ciphertext and tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + aead.encrypt(nonce, plaintext, associated_data)


def open_bytes(aead: AESGCM, sealed: bytes, associated_data: bytes) -> bytes:
    """The inverse of `seal_bytes`; raises `cryptography.exceptions.InvalidTag`."""
    return aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated_data)


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def key_id_of(value: str) -> str:
    """The id of the key that sealed `value`; ValueError if it is not a sealed value."""
    if not is_sealed(value):
        raise ValueError("not a sealed value")
    return value[len(PREFIX) :].split(":", 1)[0]


class KeyRing:
    """Data encryption keys by id, and the id new values are sealed with."""

    def __init__(
        self, active: str, keys: Mapping[str, bytes], *, setting: str = KEY_SETTING
    ) -> None:
        # `setting` names where the ring came from in every message (never a key).
        for key_id, key in keys.items():
            if not _KEY_ID.match(key_id):
                raise ValueError(f"{setting}: key id {key_id!r} must match {_KEY_ID.pattern}")
            if len(key) != KEY_BYTES:
                raise ValueError(f"{setting}: key {key_id!r} must be {KEY_BYTES} bytes")
        if active not in keys:
            raise ValueError(f"{setting}: the active key {active!r} is not among the keys")
        self._active = active
        self._setting = setting
        self._aeads = {key_id: AESGCM(key) for key_id, key in keys.items()}

    @classmethod
    def from_secret(cls, value: SecretStr, *, setting: str = KEY_SETTING) -> KeyRing:
        """Parse ``{"active": "<id>", "keys": {"<id>": "<base64 of 32 bytes>", ...}}``.

        Errors name the setting and the key id, never a key.
        """
        try:
            doc = json.loads(value.get_secret_value())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{setting} is not JSON: {exc.msg}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), dict):
            raise ValueError(f'{setting} must be {{"active": "<id>", "keys": {{"<id>": ...}}}}')
        active = doc.get("active")
        if not isinstance(active, str):
            raise ValueError(f'{setting}: "active" must be a key id')
        keys: dict[str, bytes] = {}
        for key_id, encoded in doc["keys"].items():
            try:
                keys[key_id] = base64.b64decode(str(encoded), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"{setting}: key {key_id!r} is not base64") from None
        return cls(active, keys, setting=setting)

    def aead(self, key_id: str) -> AESGCM:
        """The cipher of one key, for callers with a format of their own (backup frames);
        KeyError naming the setting when the ring does not hold it."""
        try:
            return self._aeads[key_id]
        except KeyError:
            raise KeyError(f"{self._setting} holds no key {key_id!r}") from None

    @property
    def active(self) -> str:
        return self._active

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._aeads)

    def __repr__(self) -> str:
        return f"KeyRing(active={self._active!r}, key_ids={sorted(self._aeads)!r})"

    def seal(self, plaintext: str, context: Sequence[str]) -> str:
        aead = self._aeads[self._active]
        sealed = seal_bytes(aead, plaintext.encode(), _associated_data(self._active, context))
        nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        return f"{PREFIX}{self._active}:{_b64(nonce)}:{_b64(ciphertext)}"

    def open(self, value: str, context: Sequence[str]) -> str:
        where = "/".join(context)
        malformed = DecryptionError(f"{where}: not a sealed value of format {FORMAT}")
        if not is_sealed(value):
            raise malformed
        try:
            key_id, nonce, ciphertext = value[len(PREFIX) :].split(":")
            raw = _unb64(nonce) + _unb64(ciphertext)
        except ValueError:
            raise malformed from None
        if len(raw) < NONCE_BYTES + 16:  # a nonce and a tag at least
            raise malformed
        aead = self._aeads.get(key_id)
        if aead is None:
            raise DecryptionError(
                f"{where}: sealed with key {key_id!r}, which {self._setting} no longer holds "
                "(was it removed before re-encryption finished?)"
            )
        try:
            return open_bytes(aead, raw, _associated_data(key_id, context)).decode()
        except InvalidTag:
            raise DecryptionError(
                f"{where}: authentication failed under key {key_id!r}: the value was changed, "
                "or belongs to another record, field or tenant"
            ) from None

    def is_current(self, value: str) -> bool:
        """True when `value` is sealed with the active key (nothing to re-encrypt)."""
        return is_sealed(value) and key_id_of(value) == self._active


def _associated_data(key_id: str, context: Sequence[str]) -> bytes:
    # JSON keeps the parts apart: ("a:b", "c") and ("a", "b:c") bind differently.
    return json.dumps(["agentops", FORMAT, key_id, *context], separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None
