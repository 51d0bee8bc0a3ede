"""The app's metric instruments, created from the registry in `agentops.instruments`.

Code records through `instrument(spec)` and never names a metric itself, so the names, units and
attributes the portal's queries expect are the ones emitted. Attributes are checked against the
spec: an attribute the registry does not list is a programming error (it would put an unbounded
value, such as a run id, into a metric), and it raises at once, in tests as in production.

The meter comes from the global provider through the API's proxy, so instruments made at import
time start recording once `agentops.telemetry.configure_telemetry` installs a provider, and cost a
no-op call until then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import metrics

from agentops.instruments import InstrumentSpec

METER_NAME = "agentops"

# Millisecond buckets for request, tool and wait durations: from a cache hit to a slow model call.
_MS_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000)

type AttributeValue = str | bool | int | float


class UnknownAttributeError(ValueError):
    """An attribute the instrument's spec does not list."""


class Instrument:
    """One registry instrument: `record` adds to a counter, records a histogram, sets a gauge."""

    __slots__ = ("_record", "spec")

    def __init__(self, spec: InstrumentSpec, meter: metrics.Meter) -> None:
        self.spec = spec
        created = _create(spec, meter)
        match spec.kind:
            case "counter" | "up_down_counter":
                self._record = created.add
            case "gauge":
                self._record = created.set
            case "histogram":
                self._record = created.record

    def record(self, value: float, attributes: Mapping[str, AttributeValue] | None = None) -> None:
        if attributes and not self.spec.attributes.issuperset(attributes):
            unknown = sorted(set(attributes) - self.spec.attributes)
            raise UnknownAttributeError(
                f"{self.spec.name} takes {sorted(self.spec.attributes)}, not {unknown}"
            )
        self._record(value, attributes)


def _create(spec: InstrumentSpec, meter: metrics.Meter) -> Any:
    common = {"name": spec.name, "unit": spec.unit, "description": spec.description}
    match spec.kind:
        case "counter":
            return meter.create_counter(**common)
        case "up_down_counter":
            return meter.create_up_down_counter(**common)
        case "gauge":
            return meter.create_gauge(**common)
        case "histogram":
            advice = _MS_BUCKETS if spec.unit == "ms" else None
            return meter.create_histogram(**common, explicit_bucket_boundaries_advisory=advice)


_made: dict[str, Instrument] = {}


def instrument(spec: InstrumentSpec) -> Instrument:
    """The instrument for `spec`, made once per process on the app's meter."""
    made = _made.get(spec.name)
    if made is None:
        made = _made[spec.name] = Instrument(spec, metrics.get_meter(METER_NAME))
    return made
