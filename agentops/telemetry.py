"""Telemetry set-up, done once per process by the composition root.

In Azure, `APPLICATIONINSIGHTS_CONNECTION_STRING` sends traces, metrics and logs to Application
Insights through the Azure Monitor OpenTelemetry distro. Everything else in the app only calls
`trace.get_tracer(__name__)` / `metrics.get_meter(__name__)`: with no provider configured those are
no-ops, so local runs and tests pay nothing.

Logs never carry secrets or whole queries (`agentops.logging_safety.redact`), and the HTTP client
libraries, which log every request line, are kept at WARNING.
"""

from __future__ import annotations

import logging

from agentops.settings import Settings

logger = logging.getLogger(__name__)

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

_configured = False


def configure(settings: Settings) -> None:
    global _configured
    if _configured:
        return
    _configured = True
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    connection = settings.applicationinsights_connection_string
    if connection is not None:
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(connection_string=connection.get_secret_value())
        logger.info("telemetry: Azure Monitor (Application Insights)")
