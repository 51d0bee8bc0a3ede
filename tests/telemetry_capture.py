"""In-memory OpenTelemetry providers for tests, installed globally once per test process.

The app's instruments and tracers come from the global providers (through the API's proxies), as
in production; tests that look at what was emitted take the `captured_telemetry` fixture, which
installs these providers the first time and hands back a view that only shows what the test
itself emitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
    _Gauge,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

# Delta temporality: each collection shows only what changed since the previous one.
_DELTA = {
    kind: AggregationTemporality.DELTA
    for kind in (
        Counter,
        UpDownCounter,
        Histogram,
        _Gauge,
        ObservableCounter,
        ObservableGauge,
        ObservableUpDownCounter,
    )
}


@dataclass(frozen=True, slots=True)
class Point:
    name: str
    unit: str
    attributes: Mapping[str, Any]
    value: float  # a sum, a gauge's last value, or a histogram's sum
    count: int  # a histogram's count; 1 otherwise


class CapturedTelemetry:
    def __init__(self, reader: InMemoryMetricReader, spans: InMemorySpanExporter) -> None:
        self._reader = reader
        self._spans = spans
        self._points: list[Point] = []

    def reset(self) -> None:
        self._reader.get_metrics_data()
        self._spans.clear()
        self._points = []

    def points(self, name: str | None = None) -> list[Point]:
        """Every data point recorded since the test started, optionally of one metric."""
        self._points.extend(_points(self._reader.get_metrics_data()))
        return [p for p in self._points if name is None or p.name == name]

    def total(self, name: str, **attributes: Any) -> float:
        """The sum of a metric's points whose attributes include `attributes`."""
        return sum(
            p.value
            for p in self.points(name)
            if all(p.attributes.get(k.replace("__", ".")) == v for k, v in attributes.items())
        )

    def spans(self) -> list[ReadableSpan]:
        return list(self._spans.get_finished_spans())


def _points(data: Any) -> list[Point]:
    found: list[Point] = []
    if data is None:
        return found
    for resource_metrics in data.resource_metrics:
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    if hasattr(point, "bucket_counts"):
                        value, count = float(point.sum), int(point.count)
                    else:
                        value, count = float(point.value), 1
                    found.append(
                        Point(
                            metric.name,
                            metric.unit or "",
                            dict(point.attributes or {}),
                            value,
                            count,
                        )
                    )
    return found


_installed: CapturedTelemetry | None = None


def install() -> CapturedTelemetry:
    global _installed
    if _installed is None:
        reader = InMemoryMetricReader(preferred_temporality=_DELTA)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        _installed = CapturedTelemetry(reader, exporter)
    _installed.reset()
    return _installed
