"""What a log line knows about the work it comes from: run, agent, tenant and durable instance.

Where a run, an activity or a request is handled, the code enters ``log_context(run_id=...,
agent=..., tenant=...)``; every record made inside it, by any logger and in any task started
from it, carries those fields as attributes. Handlers then see them as they see ``extra``: the
JSON formatter writes them as keys, and OpenTelemetry's logging handler exports them as log
attributes (custom dimensions in Application Insights).

The values are identifiers the app made or checked (a run id, an agent's name, a tenant id from
a verified principal), never caller text. Records get them in the log record factory, so pass
them through ``log_context`` rather than ``extra=`` (``logging`` refuses to overwrite an
attribute the factory has set).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

FIELDS = ("run_id", "agent", "tenant", "instance_id")

_EMPTY: Mapping[str, str] = MappingProxyType({})
_context: ContextVar[Mapping[str, str]] = ContextVar("agentops_log_context", default=_EMPTY)


@contextmanager
def log_context(
    *,
    run_id: str | None = None,
    agent: str | None = None,
    tenant: str | None = None,
    instance_id: str | None = None,
) -> Iterator[Mapping[str, str]]:
    """The given fields on every record made inside the block (None leaves a field as it was)."""
    given = {"run_id": run_id, "agent": agent, "tenant": tenant, "instance_id": instance_id}
    merged = {**_context.get(), **{k: str(v) for k, v in given.items() if v is not None}}
    token = _context.set(MappingProxyType(merged))
    try:
        yield _context.get()
    finally:
        _context.reset(token)


def current() -> Mapping[str, str]:
    """The fields in force here."""
    return _context.get()


def install_log_context() -> None:
    """Put the context's fields on every record. Installing twice is a no-op."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_log_context", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        fields = _context.get()
        if fields:
            record.__dict__.update(fields)
        return record

    factory.adds_log_context = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
