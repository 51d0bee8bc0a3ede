"""One retry budget per item, shared by every layer on the model path.

An item has ``max_attempts`` model calls in all. A transient failure whose wait is short (at most
``inline_max_wait_s``, honouring the server's ``retry-after-ms``/``retry-after``) is retried inside
the activity, at most ``inline_retries`` times; otherwise the item goes back to the orchestrator,
which waits ``redispatch_delay`` on a durable timer. Permanent errors are never retried.

``backoff_delay`` draws its jitter from a hash of (seed, item key, attempt) rather than a random
generator, so an orchestrator replaying its history computes the same delay every time.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

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


def retry_after_from_headers(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks to wait: ``retry-after-ms`` first, then ``retry-after``.

    ``retry-after`` is either delta-seconds or an HTTP date (RFC 9110); an unparsable value is
    ignored rather than trusted. Header names are matched case-insensitively.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms)
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value / 1000.0
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
            date = lowered.get("date")
            now = parsedate_to_datetime(date) if date else None
        except (TypeError, ValueError):
            return None
        if now is None:
            now = datetime.now(UTC)
        return max(0.0, (when - now).total_seconds())
    return value if math.isfinite(value) and value >= 0 else None


def _unit_hash(text: str) -> float:
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64
