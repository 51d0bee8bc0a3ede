"""The simulator's mutable state: current config, quota buckets, fault plans, counters.

Everything runs on one event loop and no method awaits, so no locks are needed.
"""

from __future__ import annotations

import random
import time
from typing import Any

from devhost.simulator.batches import BatchClock, BatchService
from devhost.simulator.config import FaultConfig, SimulatorConfig
from devhost.simulator.faults import FaultPlan
from devhost.simulator.latency import LatencySampler
from devhost.simulator.ratelimit import DeploymentLimiter
from devhost.simulator.stats import Stats


class SimulatorState:
    def __init__(self, config: SimulatorConfig, clock: BatchClock | None = None) -> None:
        self.stats = Stats()
        # Files and batches outlive config changes and resets, as a provider's would.
        self.batches = BatchService(clock or BatchClock())
        self.apply(config)

    def apply(self, config: SimulatorConfig) -> None:
        """Switch to ``config``: quotas refill, schedules and random streams start over."""
        self.config = config
        self.known = frozenset(config.known_deployments())
        self.latency = LatencySampler(config.latency, random.Random(f"{config.seed}:latency"))
        self._limiters: dict[str, DeploymentLimiter | None] = {}
        self._default_plan = self._plan(config.faults, "*")
        self._plans = {
            name: self._plan(faults, name) for name, faults in config.deployment_faults.items()
        }

    def _plan(self, faults: FaultConfig, scope: str) -> FaultPlan:
        return FaultPlan(faults, random.Random(f"{self.config.seed}:faults:{scope}"))

    def reset(self) -> None:
        """Zero the counters and start windows and schedules again, keeping the config."""
        self.stats = Stats()
        self.apply(self.config)

    def limiter(self, deployment: str) -> DeploymentLimiter | None:
        """Each deployment has its own buckets, also when it takes the '*' limits."""
        try:
            return self._limiters[deployment]
        except KeyError:
            limits = self.config.limits_for(deployment)
            limiter = DeploymentLimiter(limits, time.monotonic()) if limits else None
            self._limiters[deployment] = limiter
            return limiter

    def plan(self, deployment: str) -> FaultPlan:
        return self._plans.get(deployment, self._default_plan)

    def describe(self) -> dict[str, Any]:
        now = time.monotonic()
        self.batches.refresh_all(self.stats)
        stats = self.stats.as_dict()
        stats["schedule"] = {
            "*": self._default_plan.describe(now),
            **{name: plan.describe(now) for name, plan in self._plans.items()},
        }
        stats["batches"]["enqueued_tokens"] = self.batches.enqueued_tokens()
        return stats
