"""Function keys and authorization levels, enforced as the Functions host enforces them."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

MASTER_KEY_SETTING = "DEVHOST_MASTER_KEY"
FUNCTION_KEY_SETTING = "DEVHOST_FUNCTION_KEY"
DURABLE_KEY_SETTING = "DEVHOST_DURABLE_KEY"
KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"
MIN_KEY_LENGTH = 16

# Each key's name (as stored in the data directory) and the setting that overrides it.
KEY_SETTINGS = {
    "master": MASTER_KEY_SETTING,
    "function": FUNCTION_KEY_SETTING,
    "durable_system": DURABLE_KEY_SETTING,
}


class AuthLevel(StrEnum):
    ANONYMOUS = "anonymous"
    FUNCTION = "function"
    ADMIN = "admin"

    @classmethod
    def parse(cls, value: object) -> AuthLevel:
        """Accept the SDK's enum, its string form or None (the SDK's default is function)."""
        if value is None:
            return cls.FUNCTION
        text = str(getattr(value, "value", value)).lower()
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"unknown auth level {value!r}") from None


def new_key() -> str:
    # Same shape as Azure's keys: URL-safe, no padding, long enough to be unguessable.
    return secrets.token_urlsafe(40)


def check_key(value: str, source: str) -> str:
    """Return `value` if it can be a key; ValueError naming `source` otherwise."""
    if len(value) < MIN_KEY_LENGTH or not value.isprintable() or " " in value:
        raise ValueError(
            f"{source} must be at least {MIN_KEY_LENGTH} printable characters, no spaces"
        )
    return value


def _same(presented: str | None, key: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), key.encode())


@dataclass(frozen=True, slots=True)
class Keys:
    """The master key, the default function key and the Durable extension's system key.

    As in Azure, the system key (`durabletask_extension`) is not the master key: it opens the
    Durable webhooks only, so management URLs handed to callers never carry the master key.
    """

    master: str = field(repr=False)
    function: str = field(repr=False)
    durable_system: str = field(repr=False)
    from_settings: frozenset[str] = frozenset()

    @classmethod
    def resolve(cls, environ: Mapping[str, str], stored: Mapping[str, str] | None = None) -> Keys:
        """Each key from its setting, else from `stored` (kept from an earlier run), else new."""
        stored = stored or {}
        values: dict[str, str] = {}
        from_settings: set[str] = set()
        for name, setting in KEY_SETTINGS.items():
            configured = environ.get(setting) or ""
            if configured:
                values[name] = check_key(configured, setting)
                from_settings.add(name)
            else:
                values[name] = stored.get(name) or new_key()
        return cls(**values, from_settings=frozenset(from_settings))

    def as_stored(self) -> dict[str, str]:
        """The keys that are not given by settings: the ones worth keeping for the next run."""
        return {
            name: getattr(self, name) for name in KEY_SETTINGS if name not in self.from_settings
        }

    def is_master(self, presented: str | None) -> bool:
        return _same(presented, self.master)

    def is_function_key(self, presented: str | None) -> bool:
        return _same(presented, self.function)

    def opens_durable_api(self, presented: str | None) -> bool:
        """The Durable webhooks take the system key, or the master key as Azure does."""
        return _same(presented, self.durable_system) or self.is_master(presented)

    def authorizes(self, level: AuthLevel, presented: str | None) -> bool:
        if level is AuthLevel.ANONYMOUS:
            return True
        if self.is_master(presented):
            return True
        return level is AuthLevel.FUNCTION and self.is_function_key(presented)


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key a caller sent: the header wins over the `code` query parameter, as in Azure."""
    return headers.get(KEY_HEADER) or query.get(KEY_QUERY) or None
