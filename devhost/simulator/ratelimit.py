"""Per-deployment request and token quotas, checked like Azure OpenAI checks them.

Azure counts a request's tokens up front as the prompt estimate plus its max output tokens, and
refuses with 429 and ``retry-after`` when either budget is spent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from devhost.simulator.config import DeploymentLimits


class TokenBucket:
    """Holds up to ``capacity`` and refills continuously at ``rate`` per second."""

    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, per_minute: int, window_s: float, now: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, per_minute * window_s / 60.0)
        self.level = self.capacity
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` is available (after ``refill``); infinite if it never fits."""
        if amount > self.capacity:
            return math.inf
        return max(0.0, (amount - self.level) / self.rate)


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of a quota check, and what the ``x-ratelimit-*`` headers say."""

    allowed: bool
    retry_after_s: float
    headers: dict[str, str]
    exhausted: str = ""  # "requests" or "tokens" when refused


class DeploymentLimiter:
    """RPM and TPM buckets of one deployment."""

    def __init__(self, limits: DeploymentLimits, now: float) -> None:
        self.limits = limits
        self._requests = (
            TokenBucket(limits.rpm, limits.window_s, now) if limits.rpm is not None else None
        )
        self._tokens = (
            TokenBucket(limits.tpm, limits.window_s, now) if limits.tpm is not None else None
        )

    def admit(self, prompt_tokens: int, max_tokens: int | None, now: float) -> Admission:
        cost = prompt_tokens + (max_tokens if max_tokens is not None else 0)
        if max_tokens is None:
            cost += self.limits.default_max_tokens
        wait = 0.0
        exhausted = ""
        for name, bucket, amount in (
            ("requests", self._requests, 1.0),
            ("tokens", self._tokens, float(cost)),
        ):
            if bucket is None:
                continue
            bucket.refill(now)
            needed = bucket.wait_for(amount)
            if needed > wait:
                wait, exhausted = needed, name
        if wait > 0.0:
            if math.isinf(wait):
                wait = self.limits.window_s  # a request bigger than the budget: never fits
            return Admission(False, wait, self._headers(), exhausted)
        if self._requests is not None:
            self._requests.level -= 1.0
        if self._tokens is not None:
            self._tokens.level -= cost
        return Admission(True, 0.0, self._headers())

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self._requests is not None:
            headers["x-ratelimit-limit-requests"] = str(self.limits.rpm)
            headers["x-ratelimit-remaining-requests"] = str(max(0, int(self._requests.level)))
        if self._tokens is not None:
            headers["x-ratelimit-limit-tokens"] = str(self.limits.tpm)
            headers["x-ratelimit-remaining-tokens"] = str(max(0, int(self._tokens.level)))
        return headers
