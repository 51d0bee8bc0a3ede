"""The local metrics view's arithmetic: exports of several processes, encoded by the OTLP
exporter's own encoder from real SDK meter providers, add up to the totals; a running
(cumulative) total counts once per process; the receiver takes only its secret path."""

from __future__ import annotations

from typing import Any

from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from starlette.testclient import TestClient

from devhost.metrics_view import MetricTotals, build_receiver_app, exporter_environment, wanted

DELTA = {
    Counter: AggregationTemporality.DELTA,
    Histogram: AggregationTemporality.DELTA,
    UpDownCounter: AggregationTemporality.CUMULATIVE,  # as the exporter's delta preference has it
}


class _Process:
    """One worker process's meter provider, exporting as the OTLP exporter would."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader(preferred_temporality=DELTA)
        meter = MeterProvider(metric_readers=[self.reader]).get_meter("agentops")
        self.items = meter.create_counter("agentops.items.finished", unit="{item}")
        self.duration = meter.create_histogram(
            "agent.request.duration", unit="ms", explicit_bucket_boundaries_advisory=[10, 100]
        )
        self.in_flight = meter.create_up_down_counter("work.in_flight")

    def export(self) -> bytes:
        return encode_metrics(self.reader.get_metrics_data()).SerializeToString()


def _point(view: dict[str, Any], name: str, **attributes: Any) -> dict[str, Any]:
    (point,) = [p for p in view["metrics"][name]["points"] if p["attributes"] == attributes]
    return point


def test_exports_of_several_processes_add_up() -> None:
    totals = MetricTotals()
    first, second = _Process(), _Process()
    first.items.add(3, {"outcome": "completed"})
    first.in_flight.add(2)
    first.duration.record(5)
    second.items.add(4, {"outcome": "completed"})
    second.items.add(1, {"outcome": "failed", "reason": "permanent"})
    second.duration.record(50)
    totals.add_export(first.export())
    totals.add_export(second.export())
    # The next interval: deltas add, the running total of `in_flight` replaces its last value.
    first.items.add(2, {"outcome": "completed"})
    first.in_flight.add(1)
    first.duration.record(500)
    totals.add_export(first.export())

    view = totals.as_json()
    assert view["exports"] == 3
    assert _point(view, "agentops.items.finished", outcome="completed")["value"] == 9
    assert (
        _point(view, "agentops.items.finished", outcome="failed", reason="permanent")["value"] == 1
    )
    assert _point(view, "work.in_flight")["value"] == 3  # 2 then 3 running: counted once
    histogram = _point(view, "agent.request.duration")
    assert (histogram["count"], histogram["sum"]) == (3, 555)
    assert (histogram["min"], histogram["max"]) == (5, 500)
    assert (histogram["bounds"], histogram["bucketCounts"]) == ([10, 100], [1, 1, 1])
    assert view["metrics"]["agent.request.duration"]["unit"] == "ms"


def test_the_receiver_takes_protobuf_on_its_secret_path_only() -> None:
    totals = MetricTotals()
    process = _Process()
    process.items.add(1, {"outcome": "completed"})
    body = process.export()
    with TestClient(build_receiver_app(totals, "s3cret-token")) as receiver:
        protobuf = {"content-type": "application/x-protobuf"}
        path = "/s3cret-token/v1/metrics"
        assert receiver.post("/wrong/v1/metrics", content=body, headers=protobuf).status_code == 404
        as_json = {"content-type": "application/json"}
        assert receiver.post(path, content=b"{}", headers=as_json).status_code == 415
        assert receiver.post(path, content=body, headers=protobuf).status_code == 200
    assert totals.exports == 1


def test_devhost_collects_only_when_the_app_exports_nowhere_itself() -> None:
    assert wanted({})
    assert not wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert not wanted({"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=..."})
    assert not wanted({"OTEL_METRICS_EXPORTER": "none"})
    assert not wanted({"OTEL_SDK_DISABLED": "true"})
    assert not wanted({"DEVHOST_METRICS": "off"})
    env = exporter_environment("http://127.0.0.1:5000", "tok", {})
    assert env["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] == "http://127.0.0.1:5000/tok/v1/metrics"
    assert env["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"] == "delta"
    assert (
        exporter_environment("u", "t", {"OTEL_METRIC_EXPORT_INTERVAL": "250"})[
            "OTEL_METRIC_EXPORT_INTERVAL"
        ]
        == "250"
    )
