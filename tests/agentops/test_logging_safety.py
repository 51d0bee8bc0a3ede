import io
import logging
from collections.abc import Iterator

import pytest

from agentops.logging_safety import install_log_escaping, printable, redact


def test_redact_masks_emails_and_long_numbers_and_shortens() -> None:
    text = "mail ada@example.com about card 4111 1111 1111 1111 " + "x" * 100
    shown = redact(text)
    assert "ada@example.com" not in shown and "4111" not in shown
    assert "[email]" in shown and "[number]" in shown
    assert len(shown) == 60 and shown.endswith("…")
    assert redact("short") == "short"


def test_printable_escapes_every_control_character_and_cuts() -> None:
    forged = "add\r\nINFO agentops.runs: run r1 completed\x1b[2J\u2028\x00\u202e\t"
    shown = printable(forged)
    assert shown == ("add\\r\\nINFO agentops.runs: run r1 completed\\x1b[2J\\u2028\\x00\\u202e\\t")
    assert shown.isprintable()
    assert printable("x" * 500, 20) == "x" * 19 + "…"
    assert printable(ValueError("a\nb")) == "a\\nb"
    with pytest.raises(ValueError):
        printable("x", 0)


def test_redact_keeps_user_text_on_one_line() -> None:
    assert redact("ticket\nERROR forged line") == "ticket\\nERROR forged line"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A handler on the root logger, and the record factory restored afterwards."""
    factory = logging.getLogRecordFactory()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.setLogRecordFactory(factory)


def test_installed_escaping_stops_a_forged_line_from_any_app_logger(captured: io.StringIO) -> None:
    install_log_escaping()
    install_log_escaping()  # twice: still escaped once
    name = "add\nCRITICAL agentops.audit chain broken"
    logging.getLogger("agentops.agents.tool_guard").info("tool %s failed", name)
    logging.getLogger("triggers.http_api").warning("header %r", "a\r\nb")
    logging.getLogger("orchestrations").info("raw message with\nnewline")
    lines = captured.getvalue().splitlines()
    assert lines == [
        "INFO agentops.agents.tool_guard tool add\\nCRITICAL agentops.audit chain broken failed",
        "WARNING triggers.http_api header 'a\\r\\nb'",
        "INFO orchestrations raw message with\\nnewline",
    ]


def test_other_loggers_are_left_alone(captured: io.StringIO) -> None:
    install_log_escaping()
    logging.getLogger("agentopsx").info("not ours\nsecond line")
    assert "not ours\nsecond line" in captured.getvalue()
