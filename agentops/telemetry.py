"""Telemetry set-up: the one place that installs OpenTelemetry providers, once per worker process.

What is installed follows the environment, with the OpenTelemetry specification's variable names:

- ``APPLICATIONINSIGHTS_CONNECTION_STRING``: the Azure Monitor distro (traces, metrics and logs to
  Application Insights, plus its own instrumentation of HTTP and Azure SDK clients).
- ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or a signal's own ``OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT``):
  OTLP exporters, over ``OTEL_EXPORTER_OTLP_PROTOCOL`` (``http/protobuf`` by default, or
  ``grpc`` when its exporter package is installed). The exporters read endpoint, headers,
  timeout, compression and certificates themselves; ``Resource.create`` reads
  ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``.
- ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` / ``OTEL_LOGS_EXPORTER``: a comma-separated
  choice among ``otlp``, ``console`` and ``none`` per signal. Unset, a signal exports over OTLP
  when an endpoint is set, and nowhere otherwise.
- ``OTEL_SDK_DISABLED=true``: nothing at all, whatever else is set.

Azure Monitor and OTLP can be on together: one provider per signal, the distro's exporter plus
the OTLP (or console) span processors, metric readers and log processors handed to it. With
nothing set no provider is installed: ``trace.get_tracer`` / ``metrics.get_meter`` stay the API's
no-ops and Agent Framework's instrumentation is switched off, so an offline run pays nothing.

Agent Framework's own spans and GenAI metrics (``chat {model}``, ``gen_ai.client.*``) are on
whenever a provider is (``ENABLE_INSTRUMENTATION=false`` turns them off); the content of prompts,
answers and tool arguments is never captured, whatever ``ENABLE_SENSITIVE_DATA`` says.

Everything else in the app only calls ``trace.get_tracer(__name__)`` / ``metrics.get_meter(...)``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from agentops.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import LogRecordProcessor
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor

logger = logging.getLogger(__name__)

Signal = Literal["traces", "metrics", "logs"]
SIGNALS: tuple[Signal, ...] = ("traces", "metrics", "logs")
PROTOCOLS = ("http/protobuf", "grpc")
DEFAULT_PROTOCOL = "http/protobuf"
DEFAULT_SERVICE_NAME = "agentops"
_EXPORTERS = ("otlp", "console")

# The packages each OTLP protocol needs; http/protobuf is in requirements.txt.
_PROTOCOL_PACKAGES = {
    "http/protobuf": (
        "opentelemetry.exporter.otlp.proto.http",
        "opentelemetry-exporter-otlp-proto-http",
    ),
    "grpc": ("opentelemetry.exporter.otlp.proto.grpc", "opentelemetry-exporter-otlp-proto-grpc"),
}

# Libraries that log one line per request (with URLs) at INFO: too noisy for a batch of 10,000.
_CHATTY_LOGGERS = (
    "httpx",
    "httpx2",
    "openai",
    "agent_framework",
    "azure.core.pipeline.policies.http_logging_policy",
    "azure.cosmos",
    "azure.identity",
    "azure.monitor.opentelemetry.exporter",
)


class TelemetryConfigError(ValueError):
    """An OpenTelemetry variable has a value this app cannot honour; the message names it."""


@dataclass(frozen=True, slots=True)
class SignalPlan:
    """Where one signal goes besides Azure Monitor: OTLP and/or the console."""

    exporters: tuple[str, ...] = ()
    protocol: str = DEFAULT_PROTOCOL


@dataclass(frozen=True, slots=True)
class TelemetryPlan:
    """What the environment asks for; `configure` installs it."""

    azure_monitor: bool = False
    traces: SignalPlan = SignalPlan()
    metrics: SignalPlan = SignalPlan()
    logs: SignalPlan = SignalPlan()
    agent_framework: bool = False

    @property
    def enabled(self) -> bool:
        return self.azure_monitor or any(self.signal(s).exporters for s in SIGNALS)

    def signal(self, name: Signal) -> SignalPlan:
        return {"traces": self.traces, "metrics": self.metrics, "logs": self.logs}[name]


def _env(environ: Mapping[str, str], name: str) -> str | None:
    # Azure and local.settings.json leave unset settings as "": the same as absent.
    value = environ.get(name, "").strip()
    return value or None


def _signal_plan(environ: Mapping[str, str], signal: Signal) -> SignalPlan:
    upper = signal.upper()
    exporter_var = f"OTEL_{upper}_EXPORTER"
    chosen = _env(environ, exporter_var)
    if chosen is None:
        endpoint = _env(environ, "OTEL_EXPORTER_OTLP_ENDPOINT") or _env(
            environ, f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT"
        )
        names: tuple[str, ...] = ("otlp",) if endpoint else ()
    else:
        names = tuple(dict.fromkeys(n.strip().lower() for n in chosen.split(",") if n.strip()))
        unknown = [n for n in names if n not in (*_EXPORTERS, "none")]
        if unknown:
            raise TelemetryConfigError(
                f"{exporter_var}: unsupported exporter {unknown[0]!r} (use otlp, console or none)"
            )
        names = () if "none" in names else names
    protocol_var = f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL"
    protocol = (
        _env(environ, protocol_var)
        or _env(environ, "OTEL_EXPORTER_OTLP_PROTOCOL")
        or DEFAULT_PROTOCOL
    ).lower()
    if "otlp" in names and protocol not in PROTOCOLS:
        raise TelemetryConfigError(
            f"{protocol_var} / OTEL_EXPORTER_OTLP_PROTOCOL: unsupported protocol {protocol!r} "
            f"(use {' or '.join(PROTOCOLS)})"
        )
    return SignalPlan(exporters=names, protocol=protocol)


def plan(
    environ: Mapping[str, str], *, azure_monitor: bool, agent_framework: bool = True
) -> TelemetryPlan:
    """What to install for ``environ``; raises TelemetryConfigError naming a bad variable."""
    if (_env(environ, "OTEL_SDK_DISABLED") or "").lower() == "true":
        return TelemetryPlan()
    signals = {signal: _signal_plan(environ, signal) for signal in SIGNALS}
    exporting = azure_monitor or any(part.exporters for part in signals.values())
    return TelemetryPlan(
        azure_monitor=azure_monitor, **signals, agent_framework=agent_framework and exporting
    )


def plan_for(settings: Settings, environ: Mapping[str, str] | None = None) -> TelemetryPlan:
    return plan(
        os.environ if environ is None else environ,
        azure_monitor=settings.applicationinsights_connection_string is not None,
        agent_framework=settings.agent_framework_instrumentation,
    )


def check(settings: Settings, environ: Mapping[str, str] | None = None) -> TelemetryPlan:
    """The plan, with each OTLP protocol's exporter package importable: run at start-up, so a
    deployment that asks for what it cannot export fails there, naming the variable."""
    chosen = plan_for(settings, environ)
    for signal in SIGNALS:
        part = chosen.signal(signal)
        if "otlp" in part.exporters:
            module, package = _PROTOCOL_PACKAGES[part.protocol]
            try:
                __import__(module)
            except ImportError:
                raise TelemetryConfigError(
                    f"OTEL_EXPORTER_OTLP_PROTOCOL={part.protocol} needs the {package} package"
                ) from None
    return chosen


# --- Exporters and the pipeline ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The processors and readers for the OTLP and console exporters of a plan."""

    span_processors: tuple[SpanProcessor, ...] = ()
    metric_readers: tuple[MetricReader, ...] = ()
    log_processors: tuple[LogRecordProcessor, ...] = ()


def _otlp_module(protocol: str) -> str:
    return _PROTOCOL_PACKAGES[protocol][0]


def _span_exporter(name: str, protocol: str) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    module = __import__(f"{_otlp_module(protocol)}.trace_exporter", fromlist=["OTLPSpanExporter"])
    return module.OTLPSpanExporter()


def _metric_exporter(name: str, protocol: str) -> Any:
    if name == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter()
    module = __import__(
        f"{_otlp_module(protocol)}.metric_exporter", fromlist=["OTLPMetricExporter"]
    )
    return module.OTLPMetricExporter()


def _log_exporter(name: str, protocol: str) -> Any:
    if name == "console":
        from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter

        return ConsoleLogRecordExporter()
    module = __import__(f"{_otlp_module(protocol)}._log_exporter", fromlist=["OTLPLogExporter"])
    return module.OTLPLogExporter()


def build_pipeline(chosen: TelemetryPlan) -> Pipeline:
    """Batching processors and periodic readers around the plan's exporters. The exporters read
    their endpoint, headers, timeout and compression from the environment; the reader its
    interval (``OTEL_METRIC_EXPORT_INTERVAL``), the processors their batch sizes (``OTEL_BSP_*``,
    ``OTEL_BLRP_*``)."""
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    traces, metrics_, logs = chosen.traces, chosen.metrics, chosen.logs
    return Pipeline(
        span_processors=tuple(
            BatchSpanProcessor(_span_exporter(n, traces.protocol)) for n in traces.exporters
        ),
        metric_readers=tuple(
            PeriodicExportingMetricReader(_metric_exporter(n, metrics_.protocol))
            for n in metrics_.exporters
        ),
        log_processors=tuple(
            BatchLogRecordProcessor(_log_exporter(n, logs.protocol)) for n in logs.exporters
        ),
    )


def resource() -> Resource:
    """The SDK's resource (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, SDK attributes),
    named ``agentops`` when neither variable gives the service a name."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    detected = Resource.create()
    name = str(detected.attributes.get(SERVICE_NAME, ""))
    if not name or name.startswith("unknown_service"):
        detected = detected.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    return detected


# --- Installing, once per process -------------------------------------------------------------

_lock = threading.Lock()
_installed: TelemetryPlan | None = None


def configure(settings: Settings, environ: Mapping[str, str] | None = None) -> TelemetryPlan:
    """Install what the environment asks for; later calls return the first call's plan."""
    global _installed
    with _lock:
        if _installed is not None:
            return _installed
        for name in _CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        chosen = check(settings, environ)
        if chosen.enabled:
            _install(chosen, settings)
        _agent_framework_instrumentation(chosen.agent_framework)
        _installed = chosen
        return chosen


def installed() -> TelemetryPlan | None:
    """The plan this process installed, None before `configure`."""
    return _installed


def _install(chosen: TelemetryPlan, settings: Settings) -> None:
    pipeline = build_pipeline(chosen)
    if chosen.azure_monitor:
        from azure.monitor.opentelemetry import configure_azure_monitor

        connection = settings.applicationinsights_connection_string
        assert connection is not None  # the plan says so
        # One provider per signal: the distro's exporter, and ours added to the same provider.
        configure_azure_monitor(
            connection_string=connection.get_secret_value(),
            span_processors=list(pipeline.span_processors),
            metric_readers=list(pipeline.metric_readers),
            log_record_processors=list(pipeline.log_processors),
        )
        logger.info("telemetry: Azure Monitor%s", _describe(chosen, " and "))
        return
    from opentelemetry import metrics, trace
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    shared = resource()
    if pipeline.span_processors:
        tracer_provider = TracerProvider(resource=shared)
        for processor in pipeline.span_processors:
            tracer_provider.add_span_processor(processor)
        trace.set_tracer_provider(tracer_provider)
    if pipeline.metric_readers:
        # No views: Agent Framework's `create_metric_views` drops every instrument but its own.
        metrics.set_meter_provider(
            MeterProvider(metric_readers=list(pipeline.metric_readers), resource=shared)
        )
    if pipeline.log_processors:
        logger_provider = LoggerProvider(resource=shared)
        for log_processor in pipeline.log_processors:
            logger_provider.add_log_record_processor(log_processor)
        set_logger_provider(logger_provider)
        # On the root logger, as the distro does: every library's records, with their extra
        # fields (run id, agent, tenant...) as attributes and the current span's ids.
        logging.getLogger().addHandler(LoggingHandler(logger_provider=logger_provider))
    logger.info("telemetry: %s", _describe(chosen, ""))


def _describe(chosen: TelemetryPlan, prefix: str) -> str:
    parts = [
        f"{signal} to {'+'.join(chosen.signal(signal).exporters)}"
        for signal in SIGNALS
        if chosen.signal(signal).exporters
    ]
    return prefix + ", ".join(parts) if parts else ""


def _agent_framework_instrumentation(enabled: bool) -> None:
    """Agent Framework's spans and metrics on with a provider, off without one (no spans built
    at all); content capture always off. Plain assignments, not its sticky
    ``disable_instrumentation()``, so that tests with in-memory exporters can turn it on."""
    from agent_framework.observability import OBSERVABILITY_SETTINGS

    if OBSERVABILITY_SETTINGS.enable_sensitive_data:
        logger.warning("ENABLE_SENSITIVE_DATA is ignored: prompts and answers are never recorded")
    OBSERVABILITY_SETTINGS.enable_sensitive_data = False
    OBSERVABILITY_SETTINGS.enable_instrumentation = enabled
