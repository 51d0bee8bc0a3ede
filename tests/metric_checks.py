"""Checks on emitted metric points that several test modules share."""

from __future__ import annotations

from collections.abc import Iterable

from agentops.instruments import BY_NAME
from tests.telemetry_capture import Point


def attribute_sets(points: Iterable[Point]) -> set[frozenset[str]]:
    return {frozenset(point.attributes) for point in points}


# Recorded outside the model-call path (the model path's own are the gateway's to test).
OUTSIDE_MODEL_PATH = frozenset(
    {
        "agent.requests.total",
        "agent.request.duration",
        "agent.errors.total",
        "agent.created.total",
        "agent.executed.total",
        "agent.tools.invoked.total",
        "agent.tool.duration",
        "agent.memory.operations.total",
        "agentops.items.finished",
        "agentops.items.retries",
        "agentops.items.deferrals",
        "agentops.runs.finished",
        "agentops.maintenance.runs",
    }
)


def assert_within_registry(points: Iterable[Point]) -> None:
    """Every point of a registry metric carries only the attributes its spec lists, and those
    recorded outside the model path have the spec's unit (made by the registry's factory)."""
    for point in points:
        spec = BY_NAME.get(point.name)
        if spec is not None:
            assert set(point.attributes) <= spec.attributes, point
            if point.name in OUTSIDE_MODEL_PATH:
                assert point.unit == spec.unit, point


def assert_no_value_holds(points: Iterable[Point], known: Iterable[str]) -> None:
    """No attribute value of any point contains one of the `known` values (query text, a key,
    a run, thread or user id)."""
    known = [value for value in known if value]
    seen = 0
    for point in points:
        for name, value in point.attributes.items():
            seen += 1
            for secret in known:
                assert secret not in str(value), f"{point.name}.{name} holds {secret!r}"
    assert seen, "no attribute was emitted: the scan would prove nothing"
