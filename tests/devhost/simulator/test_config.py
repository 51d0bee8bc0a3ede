"""Configuration from SIM_* variables and its validation."""

from __future__ import annotations

import pytest

from devhost.simulator.config import FaultKind, SimulatorConfig


def test_defaults_are_healthy_and_instant() -> None:
    config = SimulatorConfig.from_env({})
    assert config.latency.ms == 0
    assert config.faults.rates == {}
    assert config.limits == {}
    assert config.known_deployments() == ["gpt-4o-mini"]


def test_every_variable_is_read() -> None:
    config = SimulatorConfig.from_env(
        {
            "SIM_LATENCY_DIST": "lognormal",
            "SIM_LATENCY_MS": "100",
            "SIM_LATENCY_P99_MS": "400",
            "SIM_TOKEN_LATENCY_MS": "2",
            "SIM_SEED": "9",
            "SIM_DEPLOYMENTS": "a, b,",
            "SIM_STRICT_DEPLOYMENTS": "true",
            "SIM_ANSWER_TOKENS": "50",
            "SIM_API_KEY": "k",
            "SIM_LIMITS": '{"a": {"rpm": 60, "tpm": 1000}}',
            "SIM_FAULTS": '{"rates": {"429": 0.1}, "schedule": [{"requests": 5}]}',
            "SIM_DEPLOYMENT_FAULTS": '{"c": {"rates": {"drop": 0.5}}}',
            "UNRELATED": "ignored",
        }
    )
    assert config.latency.distribution == "lognormal"
    assert config.latency.p99_ms == 400
    assert config.latency.per_token_ms == 2
    assert config.seed == 9
    assert config.deployments == ["a", "b"]
    assert config.strict_deployments is True
    assert config.answer_tokens == 50
    assert config.api_key == "k"
    assert config.limits["a"].tpm == 1000
    assert config.faults.rates == {FaultKind.RATE_LIMITED: 0.1}
    assert config.deployment_faults["c"].rates == {FaultKind.DROP: 0.5}
    assert config.known_deployments() == ["a", "b", "c"]


def test_sim_config_is_a_base_that_variables_override() -> None:
    config = SimulatorConfig.from_env(
        {"SIM_CONFIG": '{"seed": 3, "latency": {"ms": 5}}', "SIM_LATENCY_MS": "7"}
    )
    assert config.seed == 3
    assert config.latency.ms == 7


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"SIM_FAULTS": "{bad"}, "SIM_FAULTS"),
        ({"SIM_LATENCY_MS": "fast"}, "latency.ms"),
        ({"SIM_LATENCY_DIST": "uniform", "SIM_LATENCY_MIN_MS": "9"}, "min_ms <= max_ms"),
        ({"SIM_LIMITS": '{"a": {"rpm": -1}}'}, "limits.a.rpm"),
        ({"SIM_FAULTS": '{"rates": {"500": 0.7, "503": 0.7}}'}, "add up to at most 1"),
        ({"SIM_FAULTS": '{"schedule": [{"requests": 2, "duration_s": 1}]}'}, "not both"),
        ({"SIM_FAULTS": '{"schedule": [{"fault": "500"}], "repeat": true}'}, "bounded"),
    ],
)
def test_bad_settings_name_the_problem(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError) as caught:
        SimulatorConfig.from_env(environ)
    assert named in str(caught.value)


def test_limits_star_applies_to_unnamed_deployments() -> None:
    config = SimulatorConfig(limits={"*": {"rpm": 5}, "a": {"rpm": 9}})
    assert config.limits_for("a").rpm == 9  # type: ignore[union-attr]
    assert config.limits_for("z").rpm == 5  # type: ignore[union-attr]
    assert SimulatorConfig().limits_for("z") is None


def test_batch_variables_are_read_over_sim_config() -> None:
    config = SimulatorConfig.from_env(
        {
            "SIM_CONFIG": '{"batches": {"delay_s": 5, "max_lines": 7}}',
            "SIM_BATCH_DELAY_S": "60",
            "SIM_BATCH_FINALIZE_S": "2",
            "SIM_BATCH_CANCEL_S": "3",
            "SIM_BATCH_EXPIRE_AFTER_S": "600",
            "SIM_BATCH_FAILED_LINE_RATE": "0.05",
            "SIM_BATCH_MAX_FILE_BYTES": "1000",
            "SIM_BATCH_ENQUEUED_TOKENS": '{"*": 90000}',
        }
    )
    batches = config.batches
    assert (batches.delay_s, batches.finalize_s, batches.cancel_s) == (60, 2, 3)
    assert (batches.expire_after_s, batches.failed_line_rate) == (600, 0.05)
    assert (batches.max_file_bytes, batches.max_lines) == (1000, 7)
    assert batches.enqueued_limit("any") == 90000


def test_a_bad_batch_variable_is_named() -> None:
    with pytest.raises(ValueError, match=r"batches\.failed_line_rate"):
        SimulatorConfig.from_env({"SIM_BATCH_FAILED_LINE_RATE": "2"})
