"""Log lines: JSON with the work's fields and the span's ids; queries kept out unless asked for."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentops import logging_safety
from agentops.auth import LOCAL_PRINCIPAL
from agentops.bootstrap import Services, build_services
from agentops.log_context import current, install_log_context, log_context
from agentops.log_format import JsonLineFormatter, configure_logging
from agentops.runs.contracts import BatchWork
from agentops.runs.requests import RunRequest
from agentops.settings import Settings
from devhost.simulator.config import SimulatorConfig
from devhost.simulator.server import serve_in_background

SECRET_QUERY = (
    "summarise the note for ada.lovelace@example.com, card 4111 1111 1111 1111, "
    + "and the rest of this long private text " * 5
)


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """JSON lines of every record at DEBUG and above; logging restored afterwards."""
    root = logging.getLogger()
    factory, level = logging.getLogRecordFactory(), root.level
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    install_log_context()
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.setLogRecordFactory(factory)
        logging_safety.set_query_logging(False)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_a_json_line_carries_the_work_fields_and_the_span_ids(json_lines: io.StringIO) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer(__name__)
    with (
        log_context(run_id="r1", agent="summarizer", tenant="contoso"),
        log_context(instance_id="r1:chunk-0"),  # nested: adds to what is in force
        tracer.start_as_current_span("item") as span,
    ):
        logging.getLogger("agentops.runs.batch_service").info("item %d done", 3)
    logging.getLogger("agentops.runs.batch_service").info("outside")

    inside, outside = _lines(json_lines)
    ids = span.get_span_context()
    assert inside == {
        "timestamp": inside["timestamp"],
        "level": "INFO",
        "logger": "agentops.runs.batch_service",
        "message": "item 3 done",
        "run_id": "r1",
        "agent": "summarizer",
        "tenant": "contoso",
        "instance_id": "r1:chunk-0",
        "trace_id": format(ids.trace_id, "032x"),
        "span_id": format(ids.span_id, "016x"),
    }
    assert inside["timestamp"].endswith("+00:00")
    assert set(outside) == {"timestamp", "level", "logger", "message"}
    assert current() == {}


def test_log_format_json_sets_the_formatter_of_the_root_stream_handlers() -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        configure_logging(Settings(LOG_FORMAT="json"))
        configure_logging(Settings(LOG_FORMAT="json"))  # twice: still one formatter, no handler
        assert isinstance(handler.formatter, JsonLineFormatter)
        assert root.handlers.count(handler) == 1
    finally:
        root.removeHandler(handler)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with serve_in_background(SimulatorConfig()) as sim:
        built = build_services(
            Settings(store="sqlite", sqlite_path=tmp_path / "a.db", model_endpoint=sim.url)
        )
        try:
            yield built
        finally:
            await built.aclose()


async def _run_one(services: Services) -> str:
    run = await services.runs.create(
        LOCAL_PRINCIPAL, "summarizer", RunRequest(queries=[SECRET_QUERY])
    )
    work = BatchWork(run_id=run.run_id, tenant="local", agent="summarizer", indexes=[0])
    with log_context(run_id=run.run_id, agent="summarizer", tenant="local"):
        report = await services.batches.run(work)
    assert report.completed == 1
    return run.run_id


async def test_a_query_never_reaches_a_log_line(
    services: Services, json_lines: io.StringIO
) -> None:
    run_id = await _run_one(services)
    text = json_lines.getvalue()
    assert run_id in text
    assert "ada.lovelace" not in text and "4111" not in text and "private text" not in text
    item_lines = [line for line in _lines(json_lines) if line.get("run_id") == run_id]
    assert any("query [" in line["message"] for line in item_lines)  # its length, no more


async def test_query_logging_shows_queries_redacted_and_cut_to_100_characters(
    services: Services, json_lines: io.StringIO
) -> None:
    configure_logging(Settings(LOG_QUERIES=True))
    await _run_one(services)
    shown = [line["message"] for line in _lines(json_lines) if "query summarise" in line["message"]]
    assert len(shown) == 1
    query = shown[0].split("query ", 1)[1]
    assert len(query) == 100 and query.endswith("…")
    assert "[email]" in query and "[number]" in query
    assert "ada.lovelace" not in json_lines.getvalue() and "4111" not in json_lines.getvalue()
