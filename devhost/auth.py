"""Function keys and authorization levels, enforced as the Functions host enforces them."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

MASTER_KEY_SETTING = "DEVHOST_MASTER_KEY"
FUNCTION_KEY_SETTING = "DEVHOST_FUNCTION_KEY"
KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"


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


def _new_key() -> str:
    # Same shape as Azure's keys: URL-safe, no padding, long enough to be unguessable.
    return secrets.token_urlsafe(40)


@dataclass(frozen=True, slots=True)
class Keys:
    """The master (admin/system) key and the default function key."""

    master: str = field(repr=False)
    function: str = field(repr=False)
    master_from_setting: bool = False
    function_from_setting: bool = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Keys:
        """Keys from DEVHOST_MASTER_KEY / DEVHOST_FUNCTION_KEY, or new random ones."""
        master = environ.get(MASTER_KEY_SETTING) or ""
        function = environ.get(FUNCTION_KEY_SETTING) or ""
        for name, value in ((MASTER_KEY_SETTING, master), (FUNCTION_KEY_SETTING, function)):
            if value and (len(value) < 16 or not value.isprintable() or " " in value):
                raise ValueError(f"{name} must be at least 16 printable characters, no spaces")
        return cls(
            master=master or _new_key(),
            function=function or _new_key(),
            master_from_setting=bool(master),
            function_from_setting=bool(function),
        )

    def is_master(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(
            presented.encode(), self.master.encode()
        )

    def is_function_key(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(
            presented.encode(), self.function.encode()
        )

    def authorizes(self, level: AuthLevel, presented: str | None) -> bool:
        if level is AuthLevel.ANONYMOUS:
            return True
        if self.is_master(presented):
            return True
        return level is AuthLevel.FUNCTION and self.is_function_key(presented)


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key a caller sent: the header wins over the `code` query parameter, as in Azure."""
    return headers.get(KEY_HEADER) or query.get(KEY_QUERY) or None
