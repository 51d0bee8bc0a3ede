"""A TTL cache in front of a secret provider, so rotation needs no restart and outages no alarm.

After ``ttl_s`` the next read fetches the latest version; readers that arrive while a fetch is
under way wait for that one fetch. When a refresh fails, the last good value is served for up to
``grace_s`` after it was read (with a warning that names the secret, never its value), and the
store is asked again at most every ``_OUTAGE_RETRY_S``. A secret never read successfully has no
value to fall back on: its error reaches the caller. A missing secret is cached as None like any
other answer, so a newly created one appears within the TTL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from agentops.secrets.port import SecretProvider, SecretUnavailable

logger = logging.getLogger(__name__)

# While the store is failing, ask again this often rather than on every read.
_OUTAGE_RETRY_S = 30.0


@dataclass(slots=True)
class _Entry:
    value: SecretStr | None
    read_at: float  # when this value was last read successfully
    next_check: float


class CachedSecrets:
    def __init__(
        self,
        provider: SecretProvider,
        *,
        ttl_s: float = 300.0,
        grace_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        if grace_s < 0:
            raise ValueError("grace_s must not be negative")
        self._provider = provider
        self._ttl_s = ttl_s
        self._grace_s = grace_s
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._fetches: dict[str, asyncio.Future[SecretStr | None]] = {}

    @property
    def source(self) -> str:
        return self._provider.source

    async def get(self, name: str) -> SecretStr | None:
        entry = self._entries.get(name)
        if entry is not None and self._clock() < entry.next_check:
            return entry.value
        fetch = self._fetches.get(name)
        if fetch is None:
            fetch = asyncio.ensure_future(self._refresh(name))
            self._fetches[name] = fetch
            fetch.add_done_callback(lambda done: self._finished(name, done))
        # Shielded: a reader that is cancelled must not cancel the fetch the others wait for.
        return await asyncio.shield(fetch)

    async def aclose(self) -> None:
        for fetch in list(self._fetches.values()):
            fetch.cancel()
        await self._provider.aclose()

    async def _refresh(self, name: str) -> SecretStr | None:
        try:
            value = await self._provider.get(name)
        except SecretUnavailable as exc:
            return self._last_good(name, exc)
        now = self._clock()
        self._entries[name] = _Entry(value, read_at=now, next_check=now + self._ttl_s)
        return value

    def _last_good(self, name: str, error: SecretUnavailable) -> SecretStr | None:
        entry = self._entries.get(name)
        if entry is None:
            raise error  # never read: nothing to fall back on
        now = self._clock()
        age = now - entry.read_at
        if age > self._ttl_s + self._grace_s:
            raise SecretUnavailable(
                name,
                self.source,
                f"unreachable, and the value read {age:.0f} s ago is past the grace period",
            ) from error
        logger.warning(
            "cannot refresh secret %s from %s; serving the value read %.0f s ago",
            name,
            self.source,
            age,
        )
        # Ask again soon, and never serve past the grace period without asking.
        entry.next_check = min(
            now + min(self._ttl_s, _OUTAGE_RETRY_S), entry.read_at + self._ttl_s + self._grace_s
        )
        return entry.value

    def _finished(self, name: str, fetch: asyncio.Future[SecretStr | None]) -> None:
        if self._fetches.get(name) is fetch:
            del self._fetches[name]
        if not fetch.cancelled():
            fetch.exception()  # retrieved here, so an error no reader awaited is not reported
