"""A circuit breaker per model deployment, shared by every concurrent call in a worker.

Closed: calls pass; transient failures are counted over a sliding window. When a window holds at
least ``failure_threshold`` failures making up at least ``failure_ratio`` of its calls, the
breaker opens. Open: calls fail at once with ``CircuitOpenError`` (``retry_after_s`` = remaining
cool-down) without touching the endpoint. After the cool-down it is half-open: at most
``half_open_probes`` calls go through; a success closes it, a transient failure reopens it for a
full cool-down. Permanent errors say nothing about the endpoint's health and are not counted.

The ratio keeps a throttled but working endpoint (a share of 429s under load) from tripping the
breaker, which is for an endpoint that is down; the rate limiter handles throttling.

State changes happen without awaiting, under a ``threading.Lock``, so the breaker is safe for
coroutines on one loop and for activities run on worker threads alike.

The breaker records its own metrics, since its state also changes on a mere look (open turns
half-open when a health probe reads it after the cool-down): each change in
``agentops.breaker.transitions`` (``state`` = the new state) and ``agentops.breaker.state``, each
refusal in ``agentops.breaker.rejections``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import NoReturn

from agentops.instruments import BREAKER_REJECTIONS, BREAKER_STATE, BREAKER_TRANSITIONS
from agentops.metering import instrument
from agentops.model.types import CircuitOpenError

logger = logging.getLogger(__name__)
_transitions = instrument(BREAKER_TRANSITIONS)
_state = instrument(BREAKER_STATE)
_rejections = instrument(BREAKER_REJECTIONS)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"

    @property
    def gauge(self) -> int:
        """The ``agentops.breaker.state`` value: 0 closed, 1 half open, 2 open (worse is higher,
        so an alert's threshold and a chart's maximum read naturally)."""
        return _GAUGE[self]


_GAUGE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    failure_threshold: int = 5
    failure_ratio: float = 0.5
    window_s: float = 30.0
    cool_down_s: float = 30.0
    half_open_probes: int = 1
    buckets: int = 10
    # Below this many calls in the window the ratio says little (one failure in two is 50%):
    # without it a freshly closed breaker reopens on the first unlucky handful.
    min_calls: int = 20

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.half_open_probes < 1 or self.buckets < 1:
            raise ValueError("failure_threshold, half_open_probes and buckets must be >= 1")
        if self.min_calls < 1:
            raise ValueError("min_calls must be >= 1")
        if not 0.0 <= self.failure_ratio <= 1.0:
            raise ValueError("failure_ratio must be within [0, 1]")
        if self.window_s <= 0 or self.cool_down_s <= 0:
            raise ValueError("window_s and cool_down_s must be positive")


TransitionHook = Callable[[str, BreakerState, BreakerState], None]


class CircuitBreaker:
    """One deployment's breaker. Use ``admit()`` before a call and exactly one of
    ``on_success``/``on_failure``/``on_neutral`` after it."""

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_transition: TransitionHook | None = None,
    ) -> None:
        self.name = name
        self._cfg = config or BreakerConfig()
        self._clock = clock
        self._hook = on_transition
        self._lock = threading.RLock()  # a transition hook may read the state
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._probes = 0
        self._bucket_s = self._cfg.window_s / self._cfg.buckets
        # Ring of [bucket index, calls, failures]; index = floor(now / bucket_s).
        self._ring = [[-1, 0, 0] for _ in range(self._cfg.buckets)]
        self.transitions: dict[tuple[BreakerState, BreakerState], int] = {}
        # A deployment's state shows from its first call, not only after its first transition.
        _state.record(self._state.gauge, {"deployment": name})

    @property
    def state(self) -> BreakerState:
        with self._lock:
            self._advance(self._clock())
            return self._state

    def check(self) -> None:
        """Fail fast while open, without taking a probe slot (cheap look before queueing)."""
        with self._lock:
            now = self._clock()
            self._advance(now)
            if self._state is BreakerState.OPEN:
                self._reject(now)

    def admit(self) -> bool:
        """Let one call through, or raise ``CircuitOpenError``. True when the call is a
        half-open probe: the breaker's test of the endpoint rather than an ordinary call."""
        with self._lock:
            now = self._clock()
            self._advance(now)
            if self._state is BreakerState.CLOSED:
                return False
            if self._state is BreakerState.HALF_OPEN and self._probes < self._cfg.half_open_probes:
                self._probes += 1
                return True
            self._reject(now)

    def reopened(self, reason: str) -> CircuitOpenError:
        """The error for a probe that failed and reopened the breaker: come back after the
        cool-down, like any call the open breaker refuses."""
        with self._lock:
            remaining = max(0.0, self._opened_at + self._cfg.cool_down_s - self._clock())
        return CircuitOpenError(
            f"circuit reopened for deployment {self.name}: {reason}",
            status=None,
            retry_after_s=remaining,
        )

    def on_success(self) -> None:
        with self._lock:
            if self._state is BreakerState.HALF_OPEN:
                self._release_probe()
                self._move(BreakerState.CLOSED, self._clock())
            elif self._state is BreakerState.CLOSED:
                self._count(self._clock(), failed=False)

    def on_failure(self) -> None:
        """A transient failure: throttling, 5xx, timeout, dropped connection."""
        with self._lock:
            now = self._clock()
            if self._state is BreakerState.HALF_OPEN:
                self._release_probe()
                self._move(BreakerState.OPEN, now)
            elif self._state is BreakerState.CLOSED:
                calls, failures = self._count(now, failed=True)
                cfg = self._cfg
                if (
                    failures >= cfg.failure_threshold
                    and calls >= cfg.min_calls
                    and failures >= cfg.failure_ratio * calls
                ):
                    self._move(BreakerState.OPEN, now)

    def on_neutral(self) -> None:
        """The call ended without telling anything about health (permanent error, cancelled)."""
        with self._lock:
            if self._state is BreakerState.HALF_OPEN:
                self._release_probe()

    def _release_probe(self) -> None:
        self._probes = max(0, self._probes - 1)

    def _reject(self, now: float) -> NoReturn:
        _rejections.record(1, {"deployment": self.name})
        if self._state is BreakerState.OPEN:
            remaining = max(0.0, self._opened_at + self._cfg.cool_down_s - now)
        else:  # half-open with every probe slot taken: look again after a short while
            remaining = min(1.0, self._cfg.cool_down_s)
        raise CircuitOpenError(
            f"circuit open for deployment {self.name}", status=None, retry_after_s=remaining
        )

    def _advance(self, now: float) -> None:
        if self._state is BreakerState.OPEN and now - self._opened_at >= self._cfg.cool_down_s:
            self._move(BreakerState.HALF_OPEN, now)

    def _move(self, new: BreakerState, now: float) -> None:
        old = self._state
        if old is new:
            return
        self._state = new
        if new is BreakerState.OPEN:
            self._opened_at = now
        if new is not BreakerState.HALF_OPEN:
            self._probes = 0
        if new is BreakerState.CLOSED:
            for bucket in self._ring:
                bucket[0] = -1
        self.transitions[(old, new)] = self.transitions.get((old, new), 0) + 1
        _transitions.record(1, {"deployment": self.name, "state": new.value})
        _state.record(new.gauge, {"deployment": self.name})
        logger.warning("circuit breaker %s: %s -> %s", self.name, old.value, new.value)
        if self._hook is not None:
            self._hook(self.name, old, new)

    def _count(self, now: float, *, failed: bool) -> tuple[int, int]:
        index = int(now // self._bucket_s)
        bucket = self._ring[index % len(self._ring)]
        if bucket[0] != index:
            bucket[0], bucket[1], bucket[2] = index, 0, 0
        bucket[1] += 1
        bucket[2] += failed
        if not failed:
            return 0, 0
        oldest = index - len(self._ring) + 1
        calls = failures = 0
        for start, c, f in self._ring:
            if start >= oldest:
                calls += c
                failures += f
        return calls, failures


class BreakerRegistry:
    """One breaker per deployment, made on first use with the same configuration."""

    def __init__(
        self,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_transition: TransitionHook | None = None,
    ) -> None:
        self._config = config or BreakerConfig()
        self._clock = clock
        self._hook = on_transition
        self._breakers: dict[str, CircuitBreaker] = {}

    def states(self) -> dict[str, BreakerState]:
        """Each deployment's breaker state, for those that have had a call."""
        return {name: breaker.state for name, breaker in list(self._breakers.items())}

    def get(self, deployment: str) -> CircuitBreaker:
        breaker = self._breakers.get(deployment)
        if breaker is None:
            breaker = self._breakers.setdefault(
                deployment,
                CircuitBreaker(
                    deployment, self._config, clock=self._clock, on_transition=self._hook
                ),
            )
        return breaker
