"""The local metrics view: every process's OpenTelemetry metrics, summed, at GET /admin/metrics.

devhost runs the app in several processes (itself, and FUNCTIONS_WORKER_PROCESS_COUNT activity
workers), each with its own meter, so no one process knows the totals. When the app is given no
metrics destination of its own, devhost points every process's OTLP metric exporter at a
receiver on a loopback port (a secret path, as for the Durable RPC routes) and asks for delta
temporality: each export then carries what changed since the previous one, and the view adds
the exports up. A process that dies loses at most its last unexported interval.

Counters and histograms are sums over all processes. A point that arrives cumulative (an
up-down counter, or an exporter that ignores the preference) counts with its latest value per
series and start time, so a process's running total is counted once. Gauges show the last value
any process reported (a per-process state, such as a circuit breaker's, has no sum).
"""

from __future__ import annotations

import gzip
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

logger = logging.getLogger(__name__)

SWITCH_SETTING = "DEVHOST_METRICS"
EXPORT_INTERVAL_MS = "1000"
MAX_EXPORT_BYTES = 16 * 1024 * 1024
# Any of these gives the app a metrics destination (or none, on purpose): devhost stays out.
_APP_CHOICES = (
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_METRICS_EXPORTER",
)

type Attributes = tuple[tuple[str, Any], ...]


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether devhost should collect the app's metrics: on unless the app exports them itself,
    telemetry is disabled, or DEVHOST_METRICS is off."""
    if environ.get(SWITCH_SETTING, "").strip().lower() in {"0", "false", "off", "no"}:
        return False
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return not any(environ.get(name, "").strip() for name in _APP_CHOICES)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def exporter_environment(
    receiver_url: str, token: str, environ: Mapping[str, str]
) -> dict[str, str]:
    """The OpenTelemetry settings that send every process's metrics to the receiver."""
    return {
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": f"{receiver_url}/{token}/v1/metrics",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
        # Fresh figures locally; the SDK's default is a minute.
        "OTEL_METRIC_EXPORT_INTERVAL": environ.get("OTEL_METRIC_EXPORT_INTERVAL")
        or EXPORT_INTERVAL_MS,
        # Seconds, in this SDK. Loopback answers at once; devhost's own last export at exit
        # finds the receiver gone and would otherwise retry for the default 10 s.
        "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "1",
    }


@dataclass(slots=True)
class _Histogram:
    count: int = 0
    sum: float = 0.0
    min: float | None = None
    max: float | None = None
    bounds: tuple[float, ...] | None = None
    buckets: list[int] | None = None
    uneven: bool = False  # boundaries changed between exports: buckets no longer add up

    def add(self, point: Any) -> None:
        other = _Histogram(
            int(point.count),
            float(point.sum),
            point.min if point.HasField("min") else None,
            point.max if point.HasField("max") else None,
            tuple(point.explicit_bounds),
            [int(n) for n in point.bucket_counts],
        )
        merged = self.merged(other)
        for name in self.__slots__:
            setattr(self, name, getattr(merged, name))

    def merged(self, other: _Histogram) -> _Histogram:
        total = _Histogram(
            self.count + other.count,
            self.sum + other.sum,
            _pick(min, self.min, other.min),
            _pick(max, self.max, other.max),
        )
        if self.buckets is None:
            total.bounds, total.buckets = other.bounds, other.buckets
            total.uneven = self.uneven or other.uneven
        elif other.buckets is None:
            total.bounds, total.buckets = self.bounds, self.buckets
            total.uneven = self.uneven or other.uneven
        elif self.bounds == other.bounds and len(self.buckets) == len(other.buckets):
            total.bounds = self.bounds
            total.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]
            total.uneven = self.uneven or other.uneven
        else:
            total.uneven = True
        return total

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"count": self.count, "sum": self.sum}
        if self.min is not None:
            shown |= {"min": self.min, "max": self.max}
        if self.buckets is not None and not self.uneven:
            shown |= {"bounds": list(self.bounds or ()), "bucketCounts": self.buckets}
        return shown


def _pick(choose: Any, a: float | None, b: float | None) -> float | None:
    present = [v for v in (a, b) if v is not None]
    return choose(present) if present else None


@dataclass(slots=True)
class _Metric:
    kind: str  # sum, histogram, gauge
    unit: str
    description: str
    sums: dict[Attributes, float] = field(default_factory=dict)
    histograms: dict[Attributes, _Histogram] = field(default_factory=dict)
    # Cumulative points: the latest per (series, start time), so a running total counts once.
    latest: dict[tuple[Attributes, int], Any] = field(default_factory=dict)


class MetricTotals:
    """The sums of every export received, by metric and attribute set."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}
        self.exports = 0

    def add_export(self, body: bytes) -> None:
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsServiceRequest,
        )

        request = ExportMetricsServiceRequest.FromString(body)
        for resource_metrics in request.resource_metrics:
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    self._add_metric(metric)
        self.exports += 1

    def _add_metric(self, metric: Any) -> None:
        data = metric.WhichOneof("data")
        kind = {"sum": "sum", "histogram": "histogram", "gauge": "gauge"}.get(data or "")
        if kind is None:
            return  # exponential histograms and summaries: the app makes none
        held = self._metrics.get(metric.name)
        if held is None or held.kind != kind:
            held = self._metrics[metric.name] = _Metric(kind, metric.unit, metric.description)
        body = getattr(metric, data)
        delta = getattr(body, "aggregation_temporality", 1) == 1  # AGGREGATION_TEMPORALITY_DELTA
        for point in body.data_points:
            series = _attributes(point.attributes)
            if kind == "gauge":
                held.sums[series] = _number(point)
            elif not delta:
                held.latest[(series, int(point.start_time_unix_nano))] = (
                    _number(point) if kind == "sum" else _histogram_of(point)
                )
            elif kind == "sum":
                held.sums[series] = held.sums.get(series, 0.0) + _number(point)
            else:
                held.histograms.setdefault(series, _Histogram()).add(point)

    def as_json(self) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        for name in sorted(self._metrics):
            held = self._metrics[name]
            points: list[dict[str, Any]] = []
            series = set(held.sums) | set(held.histograms) | {s for s, _ in held.latest}
            for attributes in sorted(series, key=repr):
                running = [v for (s, _), v in held.latest.items() if s == attributes]
                shown: dict[str, Any] = {"attributes": dict(attributes)}
                if held.kind == "histogram":
                    total = held.histograms.get(attributes, _Histogram())
                    for histogram in running:
                        total = total.merged(histogram)
                    shown |= total.as_json()
                else:
                    shown["value"] = held.sums.get(attributes, 0.0) + sum(running)
                points.append(shown)
            metrics[name] = {
                "kind": held.kind,
                "unit": held.unit,
                "description": held.description,
                "points": points,
            }
        return {"exports": self.exports, "metrics": metrics}


def _histogram_of(point: Any) -> _Histogram:
    histogram = _Histogram()
    histogram.add(point)
    return histogram


def _number(point: Any) -> float:
    return float(point.as_double) if point.WhichOneof("value") == "as_double" else point.as_int


def _attributes(pairs: Any) -> Attributes:
    found: list[tuple[str, Any]] = []
    for pair in pairs:
        which = pair.value.WhichOneof("value")
        value = getattr(pair.value, which) if which else None
        if which in ("array_value", "kvlist_value", "bytes_value"):
            value = str(value)
        found.append((pair.key, value))
    return tuple(sorted(found))


def build_receiver_app(totals: MetricTotals, token: str) -> Starlette:
    """OTLP/HTTP (protobuf) metrics for a loopback listener, under the secret path only."""

    async def receive(request: Request) -> Response:
        if not secrets.compare_digest(request.path_params["token"], token):
            return Response(status_code=404)
        if not request.headers.get("content-type", "").startswith("application/x-protobuf"):
            return Response("OTLP/HTTP with protobuf only", status_code=415)
        body = await request.body()
        if len(body) > MAX_EXPORT_BYTES:
            return Response(status_code=413)
        if request.headers.get("content-encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        try:
            totals.add_export(body)
        except Exception:  # a malformed export must not stop the others
            logger.warning("metrics receiver: an export did not decode", exc_info=True)
            return Response(status_code=400)
        return Response(b"", media_type="application/x-protobuf")

    app = Starlette(routes=[Route("/{token}/v1/metrics", receive, methods=["POST"])])
    app.router.redirect_slashes = False
    return app


def view(totals: MetricTotals, environ: Mapping[str, str]) -> JSONResponse:
    """The totals as JSON; figures lag by up to one export interval."""
    interval = environ.get("OTEL_METRIC_EXPORT_INTERVAL", "")
    return JSONResponse(
        {
            "source": "every devhost process's OpenTelemetry metrics, summed over their exports",
            "exportIntervalMs": int(interval) if interval.isdigit() else None,
            **totals.as_json(),
        }
    )
