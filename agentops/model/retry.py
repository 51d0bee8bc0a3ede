"""One retry budget per item, shared by every layer on the model path.

An item has ``max_attempts`` model calls in all. A transient failure whose wait is short (at most
``inline_max_wait_s``, honouring the server's ``retry-after-ms``/``retry-after`` that
``agentops.model.classify`` puts in ``retry_after_s``) is retried inside
the activity, at most ``inline_retries`` times; otherwise the item goes back to the orchestrator,
which waits ``redispatch_delay`` on a durable timer. Permanent errors are never retried.

``backoff_delay`` draws its jitter from a hash of (seed, item key, attempt) rather than a random
generator, so an orchestrator replaying its history computes the same delay every time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from agentops.model.types import ModelError, TransientModelError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_s: float = 2.0
    max_s: float = 120.0
    inline_max_wait_s: float = 2.0
    inline_retries: int = 1

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_s <= 0 or self.max_s < self.base_s:
            raise ValueError("need 0 < base_s <= max_s")
        if self.inline_max_wait_s < 0 or self.inline_retries < 0:
            raise ValueError("inline_max_wait_s and inline_retries must not be negative")

    def backoff_delay(self, attempt: int, item_key: str, seed: str | int = "") -> timedelta:
        """Delay before attempt ``attempt + 1``: ``base * 2**(attempt-1)`` capped, equal jitter.

        The jitter keeps half of the exponential step and draws the other half, so delays grow
        with the attempt (until the cap) while items that failed together spread out.
        """
        if attempt < 1:
            raise ValueError("attempt counts from 1")
        step = min(self.max_s, self.base_s * 2.0 ** min(attempt - 1, 62))
        fraction = _unit_hash(f"{seed}\x1f{item_key}\x1f{attempt}")
        return timedelta(seconds=step * (0.5 + 0.5 * fraction))

    def retryable(self, error: BaseException, attempts_used: int) -> bool:
        """Whether the item may be tried again at all after ``attempts_used`` model calls."""
        return isinstance(error, TransientModelError) and attempts_used < self.max_attempts

    def redispatch_delay(
        self, attempt: int, item_key: str, seed: str | int = "", retry_after_s: float | None = None
    ) -> timedelta:
        """What the orchestrator waits before re-dispatching: the backoff, or longer if told."""
        delay = self.backoff_delay(attempt, item_key, seed)
        if retry_after_s is not None and retry_after_s > delay.total_seconds():
            return timedelta(seconds=retry_after_s)
        return delay

    def inline_wait(
        self,
        error: ModelError,
        attempts_used: int,
        inline_used: int,
        item_key: str = "",
        seed: str | int = "",
    ) -> float | None:
        """Seconds to wait before retrying inside the activity, or None to hand the item back."""
        if inline_used >= self.inline_retries or not self.retryable(error, attempts_used):
            return None
        assert isinstance(error, TransientModelError)
        wait = error.retry_after_s
        if wait is None:
            wait = self.backoff_delay(attempts_used, item_key, seed).total_seconds()
        return wait if wait <= self.inline_max_wait_s else None


def _unit_hash(text: str) -> float:
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64
