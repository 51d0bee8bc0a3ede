"""Instruments made from the registry: names, units and kinds as listed, attributes checked."""

from __future__ import annotations

import pytest

from agentops.instruments import INSTRUMENTS, LLM_CALLS, REQUEST_DURATION, TOKENS_USED
from agentops.metering import UnknownAttributeError, instrument
from tests.telemetry_capture import CapturedTelemetry


def test_every_registry_instrument_records_under_its_name_and_unit(
    captured_telemetry: CapturedTelemetry,
) -> None:
    for spec in INSTRUMENTS:
        instrument(spec).record(1, {name: "x" for name in spec.attributes})
    seen = {p.name: p for p in captured_telemetry.points()}
    for spec in INSTRUMENTS:
        assert spec.name in seen, spec.name
        assert seen[spec.name].unit == spec.unit
        assert set(seen[spec.name].attributes) == spec.attributes


def test_counters_add_and_histograms_count(captured_telemetry: CapturedTelemetry) -> None:
    tokens = instrument(TOKENS_USED)
    tokens.record(12, {"agent": "a", "deployment": "d", "token.type": "input"})
    tokens.record(30, {"agent": "a", "deployment": "d", "token.type": "input"})
    tokens.record(5, {"agent": "a", "deployment": "d", "token.type": "output"})
    assert captured_telemetry.total("agent.tokens.used", token__type="input") == 42
    assert captured_telemetry.total("agent.tokens.used", token__type="output") == 5
    duration = instrument(REQUEST_DURATION)
    duration.record(3.5, {"http.route": "/api/x", "outcome": "ok"})
    duration.record(1.5, {"http.route": "/api/x", "outcome": "ok"})
    (point,) = captured_telemetry.points("agent.request.duration")
    assert (point.value, point.count) == (5.0, 2)


def test_an_attribute_the_registry_does_not_list_is_refused() -> None:
    with pytest.raises(UnknownAttributeError, match="run_id"):
        instrument(LLM_CALLS).record(1, {"agent": "a", "run_id": "r-1"})


def test_one_instrument_per_name() -> None:
    assert instrument(LLM_CALLS) is instrument(LLM_CALLS)
