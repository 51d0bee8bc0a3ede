"""The port of the shared response cache: partition `key`, entries that expire."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class CacheStore(Protocol):
    async def cache_get(self, key: str) -> dict[str, Any] | None:
        """The value stored under `key`, or None if there is none or it has expired."""
        ...

    async def cache_get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The values stored under those of `keys` that have one, unexpired, in one round trip."""
        ...

    async def cache_put(self, key: str, value: dict[str, Any], ttl_s: int) -> None: ...
