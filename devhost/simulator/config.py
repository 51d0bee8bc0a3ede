"""The simulator's configuration: latency, rate limits, faults. Validated by pydantic.

The same model is read from ``SIM_*`` environment variables at start-up (``from_env``) and
replaced at runtime through ``PUT /sim/config``; see the package docstring for every field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class FaultKind(StrEnum):
    """What an injected fault does to one request."""

    RATE_LIMITED = "429"
    SERVER_ERROR = "500"
    UNAVAILABLE = "503"
    TIMEOUT = "timeout"  # answer only after ``FaultConfig.timeout_s``: past the client's timeout
    DROP = "drop"  # close the connection without any response


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_rates(rates: Mapping[FaultKind, float]) -> None:
    if sum(rates.values()) > 1.0 + 1e-9:
        raise ValueError("fault rates must add up to at most 1")


class LatencyConfig(_Strict):
    """Time to first token, drawn per request, plus a per-token generation delay."""

    distribution: Literal["fixed", "uniform", "lognormal"] = "fixed"
    ms: float = Field(0.0, ge=0.0, description="fixed latency, or the median for lognormal")
    min_ms: float = Field(0.0, ge=0.0, description="uniform: lower bound")
    max_ms: float = Field(0.0, ge=0.0, description="uniform: upper bound")
    p99_ms: float | None = Field(None, gt=0.0, description="lognormal: 99th percentile")
    per_token_ms: float = Field(0.0, ge=0.0, description="delay per completion token")

    @model_validator(mode="after")
    def _check_distribution(self) -> Self:
        if self.distribution == "uniform" and self.max_ms < self.min_ms:
            raise ValueError("uniform latency needs min_ms <= max_ms")
        if self.distribution == "lognormal":
            if self.ms <= 0:
                raise ValueError("lognormal latency needs a median ms > 0")
            if self.p99_ms is None or self.p99_ms < self.ms:
                raise ValueError("lognormal latency needs p99_ms >= ms")
        return self


class Phase(_Strict):
    """One step of a fault schedule: lasts a number of requests or seconds.

    ``fault`` makes every request of the phase fail that way; ``rates`` draws faults at random;
    neither means healthy. A phase with neither ``requests`` nor ``duration_s`` lasts for ever.
    """

    requests: int | None = Field(None, ge=1)
    duration_s: float | None = Field(None, gt=0.0)
    fault: FaultKind | None = None
    rates: dict[FaultKind, Probability] | None = None

    @model_validator(mode="after")
    def _check_phase(self) -> Self:
        if self.requests is not None and self.duration_s is not None:
            raise ValueError("a phase lasts either 'requests' or 'duration_s', not both")
        if self.fault is not None and self.rates is not None:
            raise ValueError("a phase has either 'fault' or 'rates', not both")
        if self.rates:
            _check_rates(self.rates)
        return self

    @property
    def bounded(self) -> bool:
        return self.requests is not None or self.duration_s is not None


class FaultConfig(_Strict):
    """Faults for one scope (all deployments, or one deployment)."""

    rates: dict[FaultKind, Probability] = Field(default_factory=dict)
    schedule: list[Phase] = Field(default_factory=list)
    repeat: bool = Field(False, description="start the schedule again after its last phase")
    retry_after_ms: int = Field(1000, ge=0, description="retry-after sent with injected 429s")
    timeout_s: float = Field(30.0, gt=0.0, description="how long a 'timeout' fault stalls")

    @model_validator(mode="after")
    def _check_faults(self) -> Self:
        _check_rates(self.rates)
        for phase in self.schedule[:-1]:
            if not phase.bounded:
                raise ValueError("only the last phase of a schedule may be unbounded")
        if self.repeat and self.schedule and not self.schedule[-1].bounded:
            raise ValueError("a repeating schedule needs a bounded last phase")
        return self


class DeploymentLimits(_Strict):
    """Azure OpenAI style quota: requests and tokens per minute, enforced over ``window_s``.

    A token bucket holds ``limit * window_s / 60`` and refills at ``limit / 60`` per second, so a
    client paced at the quota never sees a 429. Azure enforces over short windows (RPM/6 per 10 s);
    ``window_s = 10`` mimics that, ``60`` is a plain per-minute budget.
    """

    rpm: int | None = Field(None, ge=1)
    tpm: int | None = Field(None, ge=1)
    window_s: float = Field(60.0, gt=0.0, le=60.0)
    default_max_tokens: int = Field(
        0, ge=0, description="counted for the TPM check when a request sets no max tokens"
    )


class BatchConfig(_Strict):
    """The Files and Batches endpoints. Times are on the simulator's batch clock (wall time plus
    whatever ``POST /sim/batches/advance`` skipped), so tests need not wait."""

    delay_s: float = Field(
        0.0, ge=0.0, description="from creation to the last line done; 0 finishes at once"
    )
    finalize_s: float = Field(0.0, ge=0.0, description="time spent 'finalizing' after that")
    cancel_s: float = Field(0.0, ge=0.0, description="time spent 'cancelling' before 'cancelled'")
    expire_after_s: float = Field(
        86_400.0, gt=0.0, description="a batch not done this long after creation expires"
    )
    failed_line_rate: Probability = Field(
        0.0, description="share of lines answered 500 server_error (in the error file)"
    )
    max_file_bytes: int = Field(200 * 1024 * 1024, ge=1, description="upload size limit")
    max_lines: int = Field(50_000, ge=1, description="requests per batch input file")
    enqueued_tokens: dict[str, int] = Field(
        default_factory=dict,
        description="per deployment ('*' for any other): prompt tokens of unfinished batches",
    )

    def enqueued_limit(self, deployment: str) -> int | None:
        return self.enqueued_tokens.get(deployment, self.enqueued_tokens.get("*"))


class SimulatorConfig(_Strict):
    """Everything that shapes the simulator's behaviour. Immutable: replace it to change it."""

    seed: int = 0
    deployments: list[str] = Field(default_factory=lambda: ["gpt-4o-mini"])
    strict_deployments: bool = Field(False, description="404 for deployments not listed")
    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    limits: dict[str, DeploymentLimits] = Field(
        default_factory=dict, description="per deployment; '*' applies to any other deployment"
    )
    faults: FaultConfig = Field(default_factory=FaultConfig)
    deployment_faults: dict[str, FaultConfig] = Field(
        default_factory=dict, description="replace 'faults' for the deployments named"
    )
    answer_tokens: int | None = Field(
        None, ge=1, le=100_000, description="pad text answers to about this many tokens"
    )
    batches: BatchConfig = Field(default_factory=BatchConfig)
    api_key: str | None = Field(None, description="when set, requests must carry this key")
    content_filter_phrase: str | None = Field(
        "[simulate-content-filter]",
        min_length=1,
        description="a prompt containing it gets Azure's content_filter 400",
    )

    def known_deployments(self) -> list[str]:
        names = [*self.deployments, *self.limits, *self.deployment_faults]
        return sorted({name for name in names if name != "*"})

    def limits_for(self, deployment: str) -> DeploymentLimits | None:
        return self.limits.get(deployment) or self.limits.get("*")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SimulatorConfig:
        """Build from ``SIM_*`` variables; a bad value raises ``ValueError`` naming the variable."""
        data: dict[str, Any] = _json_var(environ, "SIM_CONFIG") or {}
        latency: dict[str, Any] = dict(data.get("latency", {}))
        for var, key in _LATENCY_VARS.items():
            if var in environ:
                latency[key] = environ[var]
        if latency:
            data["latency"] = latency
        batches: dict[str, Any] = dict(data.get("batches", {}))
        for var, key in _BATCH_VARS.items():
            value = _json_var(environ, var) if key == "enqueued_tokens" else environ.get(var)
            if value is not None:
                batches[key] = value
        if batches:
            data["batches"] = batches
        for var, key in _SCALAR_VARS.items():
            if var in environ:
                data[key] = environ[var]
        if "SIM_DEPLOYMENTS" in environ:
            names = [n.strip() for n in environ["SIM_DEPLOYMENTS"].split(",") if n.strip()]
            data["deployments"] = names
        for var, key in _JSON_VARS.items():
            value = _json_var(environ, var)
            if value is not None:
                data[key] = value
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ValueError(f"invalid simulator settings: {_describe(exc)}") from exc


_LATENCY_VARS = {
    "SIM_LATENCY_DIST": "distribution",
    "SIM_LATENCY_MS": "ms",
    "SIM_LATENCY_MIN_MS": "min_ms",
    "SIM_LATENCY_MAX_MS": "max_ms",
    "SIM_LATENCY_P99_MS": "p99_ms",
    "SIM_TOKEN_LATENCY_MS": "per_token_ms",
}
_BATCH_VARS = {
    "SIM_BATCH_DELAY_S": "delay_s",
    "SIM_BATCH_FINALIZE_S": "finalize_s",
    "SIM_BATCH_CANCEL_S": "cancel_s",
    "SIM_BATCH_EXPIRE_AFTER_S": "expire_after_s",
    "SIM_BATCH_FAILED_LINE_RATE": "failed_line_rate",
    "SIM_BATCH_MAX_FILE_BYTES": "max_file_bytes",
    "SIM_BATCH_MAX_LINES": "max_lines",
    "SIM_BATCH_ENQUEUED_TOKENS": "enqueued_tokens",
}
_SCALAR_VARS = {
    "SIM_SEED": "seed",
    "SIM_STRICT_DEPLOYMENTS": "strict_deployments",
    "SIM_ANSWER_TOKENS": "answer_tokens",
    "SIM_API_KEY": "api_key",
}
_JSON_VARS = {
    "SIM_LIMITS": "limits",
    "SIM_FAULTS": "faults",
    "SIM_DEPLOYMENT_FAULTS": "deployment_faults",
}


def _json_var(environ: Mapping[str, str], name: str) -> Any:
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name} is not valid JSON: {exc}") from exc


def _describe(exc: ValidationError) -> str:
    """One line per problem, each naming the field by its dotted path."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "config"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def describe_validation_error(exc: ValidationError) -> tuple[str, str | None]:
    """The message and the first offending field, for a 400 answer to ``PUT /sim/config``."""
    errors = exc.errors(include_url=False)
    first = ".".join(str(p) for p in errors[0]["loc"]) if errors else None
    return _describe(exc), first or None
