"""Requests per minute per tenant and per user, counted in this instance.

Each instance (and each worker process) counts on its own, as the model rate limiter does: the
limit protects an instance from one noisy caller. The global, cross-instance limit in Azure is
API Management's `rate-limit-by-key` in front of the app.
"""

from __future__ import annotations

import time

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from agentops.auth import Principal


class RequestRateExceeded(Exception):
    """A caller went over its share: 429 with Retry-After."""

    def __init__(self, scope: str, limit: int, retry_after_s: float) -> None:
        super().__init__(f"more than {limit} requests a minute for this {scope}")
        self.scope = scope
        self.limit = limit
        self.retry_after_s = retry_after_s


class RequestLimiter:
    def __init__(self, *, tenant_per_minute: int, user_per_minute: int) -> None:
        # A sliding window counter: two counters per key, no burst at a window's edge.
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._rules = [
            (scope, RateLimitItemPerMinute(amount))
            # The user's share first: a refused user does not spend the tenant's.
            for scope, amount in (("user", user_per_minute), ("tenant", tenant_per_minute))
            if amount > 0
        ]

    def check(self, principal: Principal) -> None:
        """Count one request; raise RequestRateExceeded if it is over a limit."""
        keys = {"tenant": (principal.tenant,), "user": (principal.tenant, principal.id)}
        for scope, item in self._rules:
            if not self._limiter.hit(item, scope, *keys[scope]):
                stats = self._limiter.get_window_stats(item, scope, *keys[scope])
                raise RequestRateExceeded(
                    scope, item.amount, max(1.0, stats.reset_time - time.time())
                )
