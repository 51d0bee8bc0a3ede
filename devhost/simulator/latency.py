"""Latency drawn per request from a seeded distribution, so runs are reproducible."""

from __future__ import annotations

import math
import random

from devhost.simulator.config import LatencyConfig

_Z99 = 2.3263478740408408  # the standard normal's 99th percentile


class LatencySampler:
    """Draws the time to first token, in seconds."""

    def __init__(self, config: LatencyConfig, rng: random.Random) -> None:
        self._config = config
        self._rng = rng
        self.per_token_s = config.per_token_ms / 1000.0
        if config.distribution == "lognormal":
            assert config.p99_ms is not None  # checked by LatencyConfig
            self._mu = math.log(config.ms)
            self._sigma = (math.log(config.p99_ms) - self._mu) / _Z99

    def first_token_s(self) -> float:
        config = self._config
        if config.distribution == "fixed":
            return config.ms / 1000.0
        if config.distribution == "uniform":
            return self._rng.uniform(config.min_ms, config.max_ms) / 1000.0
        return self._rng.lognormvariate(self._mu, self._sigma) / 1000.0
