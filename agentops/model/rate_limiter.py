"""Requests and tokens per minute per deployment, so a batch stays under quota instead of
collecting 429s.

Each deployment has two token buckets shaped as Azure OpenAI enforces quota: a bucket holds
``limit * window_s / 60`` and refills at ``limit / 60`` per second (``window_s = 10`` mimics
Azure's short windows, 60 is a plain per-minute budget). A request reserves one request and its
estimated tokens: the prompt (characters / 4) plus the maximum output tokens, which is what Azure
counts when the request arrives. ``Reservation.settle`` corrects the token bucket by the usage the
model reports: it charges a prompt that was larger than estimated, and refunds unused output only
when ``refund_unused_output`` is set (Azure does not give it back, so refunding would drift ahead
of the server's own count).

Waiters queue in arrival order; only the head of the queue sleeps on the clock, the others wait on
a future, so nobody busy-loops and a large request is not starved by small ones behind it.

A request that had to queue records how long it waited in ``agentops.limiter.wait``; one that
found capacity at once records nothing, so the fast path stays free and the histogram's count is
the number of calls that were paced (set against ``agent.llm.calls.total`` for their share).

``snapshot`` reads a limiter's load without moving its buckets, for the operations route. Each
worker process paces its own share of the quota, so a snapshot is this process's view only.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from agentops.instruments import LIMITER_WAIT
from agentops.metering import instrument
from agentops.model.types import ModelRequest, Usage

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 3

_wait = instrument(LIMITER_WAIT)


@dataclass(frozen=True, slots=True)
class RateLimits:
    rpm: int | None = None
    tpm: int | None = None
    window_s: float = 60.0
    refund_unused_output: bool = False

    def __post_init__(self) -> None:
        for name, value in (("rpm", self.rpm), ("tpm", self.tpm)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 or None")
        if not 0 < self.window_s <= 60:
            raise ValueError("window_s must be within (0, 60]")


def estimate_prompt_tokens(request: ModelRequest) -> int:
    """About four characters per token over the query and its history, plus message framing."""
    chars = len(request.query) + sum(len(m.text) for m in request.history)
    return -(-chars // CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * (len(request.history) + 2)


@dataclass(frozen=True, slots=True)
class BucketLoad:
    """One bucket at a moment: what is available now out of what it holds when full."""

    available: float
    capacity: float


@dataclass(frozen=True, slots=True)
class LimiterLoad:
    """A deployment's limiter in this process: its limits, its buckets and its queue."""

    deployment: str
    limits: RateLimits
    requests: BucketLoad | None
    tokens: BucketLoad | None
    waiters: int


class _Bucket:
    __slots__ = ("capacity", "level", "rate", "stamp")

    def __init__(self, per_minute: int, window_s: float, now: float) -> None:
        self.capacity = per_minute * window_s / 60.0
        self.rate = per_minute / 60.0
        self.level = self.capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now

    def load(self, now: float) -> BucketLoad:
        """The level a refill at ``now`` would give, without refilling (reading moves nothing)."""
        level = self.level + max(0.0, now - self.stamp) * self.rate
        return BucketLoad(available=min(self.capacity, level), capacity=self.capacity)

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` is available (a request larger than the bucket waits for a
        full bucket rather than for ever)."""
        missing = min(amount, self.capacity) - self.level
        # Float refill can leave a sliver missing that a clock cannot advance past: ignore it.
        return missing / self.rate if missing > 1e-9 else 0.0


class Reservation:
    """What one request took from its deployment's buckets; settle or cancel it once."""

    __slots__ = ("_done", "_limiter", "output_tokens", "prompt_tokens")

    def __init__(self, limiter: DeploymentLimiter | None, prompt: int, output: int) -> None:
        self._limiter = limiter
        self.prompt_tokens = prompt
        self.output_tokens = output
        self._done = limiter is None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens

    def settle(self, usage: Usage | None) -> None:
        """The call was made: correct the token count by the usage reported (None when the
        call failed and reported nothing, which refunds the tokens but keeps the request)."""
        if self._done:
            return
        self._done = True
        assert self._limiter is not None
        if usage is None:
            actual = 0
        else:
            output = usage.completion_tokens
            if not self._limiter.limits.refund_unused_output:
                output = max(output, self.output_tokens)
            actual = usage.prompt_tokens + output
        self._limiter.adjust(tokens=actual - self.tokens, requests=0)

    def cancel(self) -> None:
        """No call was made after all: give back the request and its tokens."""
        if self._done:
            return
        self._done = True
        assert self._limiter is not None
        self._limiter.adjust(tokens=-self.tokens, requests=-1)


class DeploymentLimiter:
    def __init__(
        self,
        deployment: str,
        limits: RateLimits,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.limits = limits
        self.deployment = deployment
        self._clock = clock
        self._sleep = sleep
        now = clock()
        self._requests = _Bucket(limits.rpm, limits.window_s, now) if limits.rpm else None
        self._tokens = _Bucket(limits.tpm, limits.window_s, now) if limits.tpm else None
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self, prompt_tokens: int, output_tokens: int) -> Reservation:
        if prompt_tokens < 0 or output_tokens < 0:
            raise ValueError("token counts must not be negative")
        tokens = prompt_tokens + output_tokens
        if not self._waiters and self._wait(tokens) == 0.0:
            self._take(tokens)
            return Reservation(self, prompt_tokens, output_tokens)
        queued_at = self._clock()
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        try:
            if self._waiters[0] is not turn:
                await turn
            while (delay := self._wait(tokens)) > 0.0:
                await self._sleep(delay)
            self._take(tokens)
        finally:
            self._leave(turn)
        waited_ms = (self._clock() - queued_at) * 1000.0
        _wait.record(waited_ms, {"deployment": self.deployment})
        return Reservation(self, prompt_tokens, output_tokens)

    def snapshot(self) -> LimiterLoad:
        now = self._clock()
        return LimiterLoad(
            deployment=self.deployment,
            limits=self.limits,
            requests=self._requests.load(now) if self._requests is not None else None,
            tokens=self._tokens.load(now) if self._tokens is not None else None,
            waiters=len(self._waiters),
        )

    def adjust(self, *, tokens: int, requests: int) -> None:
        now = self._clock()
        if self._tokens is not None and tokens:
            self._tokens.refill(now)
            self._tokens.level = min(self._tokens.capacity, self._tokens.level - tokens)
        if self._requests is not None and requests:
            self._requests.refill(now)
            self._requests.level = min(self._requests.capacity, self._requests.level - requests)

    def _wait(self, tokens: int) -> float:
        now = self._clock()
        delay = 0.0
        if self._requests is not None:
            self._requests.refill(now)
            delay = self._requests.wait_for(1)
        if self._tokens is not None:
            self._tokens.refill(now)
            delay = max(delay, self._tokens.wait_for(tokens))
        return delay

    def _take(self, tokens: int) -> None:
        if self._requests is not None:
            self._requests.level -= 1
        if self._tokens is not None:
            # A request larger than the bucket empties it instead of driving it far negative.
            self._tokens.level -= min(tokens, self._tokens.capacity)

    def _leave(self, turn: asyncio.Future[None]) -> None:
        was_head = bool(self._waiters) and self._waiters[0] is turn
        try:
            self._waiters.remove(turn)
        except ValueError:
            return
        if was_head and self._waiters and not self._waiters[0].done():
            self._waiters[0].set_result(None)


class RateLimiter:
    """Limiters per deployment; a deployment without configured limits is not limited."""

    def __init__(
        self,
        limits: Mapping[str, RateLimits] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limiters = {
            name: DeploymentLimiter(name, value, clock=clock, sleep=sleep)
            for name, value in (limits or {}).items()
        }

    def for_deployment(self, deployment: str) -> DeploymentLimiter | None:
        return self._limiters.get(deployment)

    def snapshot(self) -> list[LimiterLoad]:
        """Every limited deployment's load in this process, by deployment name."""
        return [self._limiters[name].snapshot() for name in sorted(self._limiters)]

    async def acquire(self, request: ModelRequest, prompt_tokens: int | None = None) -> Reservation:
        """Reserve for ``request``; ``prompt_tokens`` overrides the estimate (the caller's own)."""
        limiter = self._limiters.get(request.deployment)
        prompt = estimate_prompt_tokens(request) if prompt_tokens is None else prompt_tokens
        if limiter is None:
            return Reservation(None, prompt, request.max_output_tokens)
        return await limiter.acquire(prompt, request.max_output_tokens)
