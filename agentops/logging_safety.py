"""What outside text may look like in a log line: one line, short, and for user text masked.

Model output, tool names, headers, caller-given names and exception messages from SDKs all reach
logs. A carriage return or line feed in any of them would start a forged log line, and an escape
sequence could rewrite a terminal, so ``printable`` escapes every control character (``\\n``,
``\\x1b``, ``\\u2028``...) and cuts the length. Call sites use it on each outside value;
``install_log_escaping`` is the net under them, for a call site that forgot.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_LONG_NUMBER = re.compile(r"\b\d[\d -]{7,}\d\b")  # card, phone and account numbers
# C0 and C1 controls, DEL, line and paragraph separators, bidirectional and zero-width
# formatting characters, and lone surrogates (which break log encoders).
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    "\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
APP_LOGGERS = ("agentops", "triggers", "activities", "orchestrations")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, limit: int = 200) -> str:
    """``text`` as one printable line: control characters escaped, cut to ``limit`` characters."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    escaped = _UNPRINTABLE.sub(_escape, str(text))
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def redact(text: str, limit: int = 60) -> str:
    """A loggable stand-in for user text: masked, on one line, and cut to ``limit`` characters."""
    return printable(_LONG_NUMBER.sub("[number]", _EMAIL.sub("[email]", text)), limit)


def escape_record(record: logging.LogRecord) -> None:
    """Replace the record's message by its escaped form, so every handler gets one line.

    Formatting here rather than in a handler is what makes it hold for handlers added later (the
    Functions worker's, the Azure Monitor exporter's). Only the message is escaped: a traceback in
    ``exc_info`` is multi-line by nature and exporters keep it as a separate field.
    """
    try:
        message = record.getMessage()
    except Exception:  # bad %-arguments: leave it for the handler to report as usual
        return
    record.msg = _UNPRINTABLE.sub(_escape, message)
    record.args = None


def _is_app_record(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in APP_LOGGERS)


def install_log_escaping() -> None:
    """Escape control characters in every record of the app's loggers. Installing twice is a no-op.

    A ``logging.Filter`` on the ``agentops`` logger would not see its children's records (logger
    filters are not inherited), and one on the handlers would miss handlers added after start-up,
    so the escaping is done where records are made: in the log record factory.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "escapes_control_characters", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        if _is_app_record(record.name):
            escape_record(record)
        return record

    factory.escapes_control_characters = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


# Queries stay out of logs; LOG_QUERIES (debugging only) lets DEBUG lines show them, redacted.
QUERY_LOG_LIMIT = 100
_log_queries = False


def set_query_logging(enabled: bool) -> None:
    global _log_queries
    _log_queries = enabled


def loggable_query(text: str) -> str:
    """What a log line may show of a query: by default its length only; with query logging on,
    the text masked (e-mail addresses, long numbers), on one line and cut to 100 characters."""
    if not _log_queries:
        return f"[{len(text)} characters]"
    return redact(text, QUERY_LOG_LIMIT)
