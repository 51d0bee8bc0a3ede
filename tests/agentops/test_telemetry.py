"""The telemetry set-up: what each environment installs, and that it reaches a real receiver.

Installing providers changes process-wide state that can be set only once, so the tests of
`configure` itself run in a fresh interpreter each; the pipeline tests build providers of their
own without installing them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agentops import telemetry
from agentops.settings import Settings
from agentops.telemetry import SignalPlan, TelemetryConfigError, TelemetryPlan, plan
from tests.otlp_receiver import otlp_receiver

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_nothing_set_plans_nothing() -> None:
    chosen = plan({}, azure_monitor=False)
    assert chosen == TelemetryPlan()
    assert not chosen.enabled and not chosen.agent_framework


def test_an_endpoint_sends_every_signal_over_otlp_http_protobuf() -> None:
    chosen = plan({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, azure_monitor=False)
    otlp = SignalPlan(("otlp",), "http/protobuf")
    assert (chosen.traces, chosen.metrics, chosen.logs) == (otlp, otlp, otlp)
    assert chosen.enabled and chosen.agent_framework and not chosen.azure_monitor


def test_a_signal_endpoint_sends_that_signal_alone() -> None:
    chosen = plan(
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, azure_monitor=False
    )
    assert chosen.traces.exporters == ("otlp",)
    assert chosen.metrics.exporters == () and chosen.logs.exporters == ()


def test_exporter_variables_choose_per_signal_as_the_specification_spells_them() -> None:
    chosen = plan(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
            "OTEL_TRACES_EXPORTER": "console, otlp",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "",  # unset, as Azure leaves it: follows the endpoint
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "grpc",
        },
        azure_monitor=False,
    )
    assert chosen.traces == SignalPlan(("console", "otlp"), "http/protobuf")
    assert chosen.metrics.exporters == ()
    assert chosen.logs == SignalPlan(("otlp",), "grpc")


def test_console_alone_needs_no_endpoint() -> None:
    chosen = plan({"OTEL_TRACES_EXPORTER": "console"}, azure_monitor=False)
    assert chosen.traces.exporters == ("console",) and chosen.enabled


def test_azure_monitor_and_otlp_together() -> None:
    chosen = plan({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, azure_monitor=True)
    assert chosen.azure_monitor and chosen.traces.exporters == ("otlp",)


def test_sdk_disabled_wins_over_everything() -> None:
    environ = {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
    assert plan(environ, azure_monitor=True) == TelemetryPlan()


def test_agent_framework_instrumentation_can_be_turned_off() -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
    assert not plan(environ, azure_monitor=False, agent_framework=False).agent_framework


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ),
    ],
)
def test_values_the_app_cannot_honour_are_refused_by_name(
    environ: dict[str, str], named: str
) -> None:
    with pytest.raises(TelemetryConfigError, match=named):
        plan(environ, azure_monitor=False)


def test_check_names_the_package_a_protocol_needs() -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    try:
        import opentelemetry.exporter.otlp.proto.grpc  # noqa: F401
    except ImportError:
        with pytest.raises(TelemetryConfigError, match="opentelemetry-exporter-otlp-proto-grpc"):
            telemetry.check(Settings(), environ)
    else:
        assert telemetry.check(Settings(), environ).traces.protocol == "grpc"


def test_the_pipeline_exports_a_span_and_a_metric_to_an_otlp_receiver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "agentops-test")
        chosen = plan(os.environ, azure_monitor=False)
        pipeline = telemetry.build_pipeline(chosen)
        tracer_provider = TracerProvider(resource=telemetry.resource())
        for processor in pipeline.span_processors:
            tracer_provider.add_span_processor(processor)
        meter_provider = MeterProvider(
            metric_readers=list(pipeline.metric_readers), resource=telemetry.resource()
        )
        try:
            with tracer_provider.get_tracer(__name__).start_as_current_span("probe"):
                pass
            meter_provider.get_meter(__name__).create_counter("probe.count").add(1)
            tracer_provider.force_flush()
            meter_provider.force_flush()
            receiver.wait_for("/v1/traces")
            receiver.wait_for("/v1/metrics")
        finally:
            tracer_provider.shutdown()
            meter_provider.shutdown()
            for log_processor in pipeline.log_processors:
                log_processor.shutdown()
        assert ("probe", "agentops-test") in receiver.spans()
        assert "probe.count" in receiver.metric_names()
        assert {post.content_type for post in receiver.posts} == {"application/x-protobuf"}


def test_the_service_is_named_agentops_unless_the_environment_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    assert telemetry.resource().attributes["service.name"] == "agentops"
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=batch,deployment.environment=t")
    attributes = telemetry.resource().attributes
    assert attributes["service.name"] == "batch"
    assert attributes["deployment.environment"] == "t"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "named")  # wins over the attribute, as specified
    assert telemetry.resource().attributes["service.name"] == "named"


# --- configure, in a fresh interpreter --------------------------------------------------------

_CONFIGURE_TWICE = textwrap.dedent(
    """
    import json, logging
    from opentelemetry import metrics, trace
    from agentops import telemetry
    from agentops.settings import Settings
    from agent_framework.observability import OBSERVABILITY_SETTINGS

    logging.getLogger().setLevel(logging.INFO)
    first = telemetry.configure(Settings())
    provider = trace.get_tracer_provider()
    second = telemetry.configure(Settings())
    with trace.get_tracer("probe").start_as_current_span("probe-span"):
        logging.getLogger("agentops.probe").warning("probe line")
    metrics.get_meter("probe").create_counter("probe.metric").add(1)
    # Exported now, not left to the exit handlers, whose order between the two exporters'
    # shutdowns is not fixed.
    if hasattr(trace.get_tracer_provider(), "force_flush"):
        trace.get_tracer_provider().force_flush()
    handlers = [type(h).__name__ for h in logging.getLogger().handlers]
    print(json.dumps({
        "same_plan": first is second,
        "same_provider": trace.get_tracer_provider() is provider,
        "tracer_provider": type(trace.get_tracer_provider()).__name__,
        "meter_provider": type(metrics.get_meter_provider()).__name__,
        "otel_handlers": handlers.count("LoggingHandler"),
        "agent_framework": OBSERVABILITY_SETTINGS.ENABLED,
        "sensitive": OBSERVABILITY_SETTINGS.SENSITIVE_DATA_ENABLED,
    }))
    """
)


def _run_configure(environ: dict[str, str]) -> dict[str, Any]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "APPLICATIONINSIGHTS_", "ENABLE_"))
    }
    env |= {"PYTHONPATH": str(PROJECT_ROOT), "OTEL_METRIC_EXPORT_INTERVAL": "200", **environ}
    done = subprocess.run(
        [sys.executable, "-c", _CONFIGURE_TWICE],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_with_nothing_set_no_provider_is_installed() -> None:
    seen = _run_configure({})
    assert seen["tracer_provider"] == "ProxyTracerProvider"
    assert seen["meter_provider"] == "_ProxyMeterProvider"
    assert seen["otel_handlers"] == 0
    assert seen["agent_framework"] is False
    assert seen["same_plan"]


def test_with_an_endpoint_a_span_a_metric_and_a_log_reach_the_receiver_once() -> None:
    with otlp_receiver() as receiver:
        seen = _run_configure(
            {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "ENABLE_SENSITIVE_DATA": "true"}
        )
        # The process flushed on exit; the receiver has what it sent.
        spans = receiver.spans()
        assert ("probe-span", "agentops") in spans
        assert "probe.metric" in receiver.metric_names()
        assert any(body == "probe line" for body, _ in receiver.log_records())
    assert seen["tracer_provider"] == "TracerProvider"
    assert seen["meter_provider"] == "MeterProvider"
    assert seen["same_plan"] and seen["same_provider"]
    assert seen["otel_handlers"] == 1  # configure twice installs once
    assert seen["agent_framework"] is True
    assert seen["sensitive"] is False  # content capture stays off even when asked for


def test_azure_monitor_and_otlp_export_side_by_side() -> None:
    with otlp_receiver() as receiver:
        connection = (
            "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
            f"IngestionEndpoint={receiver.url}/;LiveEndpoint={receiver.url}/"
        )
        seen = _run_configure(
            {
                "APPLICATIONINSIGHTS_CONNECTION_STRING": connection,
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
                # The distro samples at 5 traces a second by default, which may drop a
                # process's first span: every span here, to see both exporters get it.
                "OTEL_TRACES_SAMPLER": "microsoft.fixed_percentage",
                "OTEL_TRACES_SAMPLER_ARG": "1.0",
            }
        )
        receiver.wait_for("/v1/traces")  # the receiver's thread may record it just after
        assert "probe-span" in [name for name, _ in receiver.spans()]
        assert receiver.wait_for("/v2.1/track")
    assert seen["tracer_provider"] == "TracerProvider"
    assert seen["otel_handlers"] == 1
