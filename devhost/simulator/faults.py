"""Which fault, if any, hits a request: a schedule of phases, then random rates.

A schedule's clock starts at the first request after the plan is made (start-up, a config
change or ``/sim/reset``), so tests do not depend on when the server came up. A phase measured in
seconds ends on the clock, one measured in requests ends after that many requests.
"""

from __future__ import annotations

import random
from typing import Any

from devhost.simulator.config import FaultConfig, FaultKind, Phase

_KINDS = tuple(FaultKind)


class FaultPlan:
    """The fault state of one scope: schedule position and a seeded random stream."""

    def __init__(self, config: FaultConfig, rng: random.Random) -> None:
        self.config = config
        self._rng = rng
        self._index = 0
        self._phase_started: float | None = None
        self._phase_requests = 0
        self._cycles = 0

    def draw(self, now: float) -> FaultKind | None:
        """The fault for a request arriving at ``now`` (monotonic seconds), or None."""
        phase = self._current_phase(now)
        if phase is None:
            rates = self.config.rates
        else:
            self._phase_requests += 1
            if phase.fault is not None:
                return phase.fault
            rates = phase.rates or {}
        if not rates:
            return None
        roll = self._rng.random()
        for kind in _KINDS:
            roll -= rates.get(kind, 0.0)
            if roll < 0.0:
                return kind
        return None

    def _current_phase(self, now: float) -> Phase | None:
        schedule = self.config.schedule
        while self._index < len(schedule):
            phase = schedule[self._index]
            if self._phase_started is None:
                self._phase_started = now
            if phase.requests is not None and self._phase_requests >= phase.requests:
                self._advance(now)
            elif phase.duration_s is not None and now - self._phase_started >= phase.duration_s:
                self._advance(self._phase_started + phase.duration_s)
            else:
                return phase
        return None

    def _advance(self, started: float) -> None:
        self._index += 1
        self._phase_requests = 0
        self._phase_started = started
        if self._index == len(self.config.schedule) and self.config.repeat:
            self._index = 0
            self._cycles += 1

    def describe(self, now: float) -> dict[str, Any]:
        """Where the schedule stands, for ``/sim/stats``.

        Moves past phases whose time is up (the next request would too) but never starts the clock.
        """
        schedule = self.config.schedule
        if self._phase_started is not None:
            self._current_phase(now)
        if not schedule:
            return {"phase": None, "rates": {k.value: v for k, v in self.config.rates.items()}}
        if self._index >= len(schedule):
            return {"phase": "done", "rates": {k.value: v for k, v in self.config.rates.items()}}
        phase = schedule[self._index]
        elapsed = 0.0 if self._phase_started is None else now - self._phase_started
        return {
            "phase": self._index,
            "cycle": self._cycles,
            "fault": phase.fault.value if phase.fault else None,
            "rates": {k.value: v for k, v in (phase.rates or {}).items()},
            "requests_in_phase": self._phase_requests,
            "seconds_in_phase": round(elapsed, 3),
            "started": self._phase_started is not None,
        }
