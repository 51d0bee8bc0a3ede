"""Checks on emitted metric points that several test modules share."""

from __future__ import annotations

from collections.abc import Iterable

from agentops.instruments import BY_NAME
from tests.telemetry_capture import Point


def attribute_sets(points: Iterable[Point]) -> set[frozenset[str]]:
    return {frozenset(point.attributes) for point in points}


def assert_within_registry(points: Iterable[Point]) -> None:
    """Every point of a registry metric carries only the attributes its spec lists, and the
    spec's unit (every instrument is made by the registry's factory)."""
    for point in points:
        spec = BY_NAME.get(point.name)
        if spec is not None:
            assert set(point.attributes) <= spec.attributes, point
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
