"""How log lines are written: text for people, or JSON lines (``LOG_FORMAT=json``) for collectors.

JSON lines carry ``timestamp``, ``level``, ``logger`` and ``message``, the fields of the work in
hand (``run_id``, ``agent``, ``tenant``, ``instance_id``: `agentops.log_context`), and the current
span's ``trace_id`` and ``span_id`` when a span is being recorded, so a line can be joined to its
trace. The formatter is python-json-logger's, which also writes any other ``extra`` field and a
traceback as ``exc_info``.

In Azure Functions the worker forwards records to the host itself, and with telemetry on they
reach Application Insights through OpenTelemetry with the same fields as custom dimensions: the
JSON format is for processes whose standard error is collected (containers, devhost).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from agentops import logging_safety
from agentops.log_context import install_log_context
from agentops.settings import Settings

_FIELDS = "{asctime}{levelname}{name}{message}"
_RENAMED = {"asctime": "timestamp", "levelname": "level", "name": "logger"}


class JsonLineFormatter(JsonFormatter):
    """One JSON object per record, with the current span's ids."""

    def __init__(self) -> None:
        super().__init__(
            _FIELDS,
            style="{",
            rename_fields=_RENAMED,
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # ISO 8601 in UTC with milliseconds, whatever the host's time zone.
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            log_data["trace_id"] = format(span.trace_id, "032x")
            log_data["span_id"] = format(span.span_id, "016x")


def configure_logging(settings: Settings) -> None:
    """Context fields on every record, the query-logging switch, and JSON lines when asked.

    Safe to call more than once: the formatter of the root logger's stream handlers is set (one
    on standard error is added when there is none), and nothing else is replaced.
    """
    install_log_context()
    logging_safety.set_query_logging(settings.log_queries)
    if settings.log_format != "json":
        return
    root = logging.getLogger()
    streams = [
        handler
        for handler in root.handlers
        if isinstance(handler, logging.StreamHandler)
        and not isinstance(handler, logging.FileHandler)
    ]
    if not streams:
        handler = logging.StreamHandler(sys.stderr)
        root.addHandler(handler)
        streams = [handler]
    for handler in streams:
        if not isinstance(handler.formatter, JsonLineFormatter):
            handler.setFormatter(JsonLineFormatter())
