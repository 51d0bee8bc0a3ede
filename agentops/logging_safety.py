"""What user text may look like in a log line: masked and short."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_LONG_NUMBER = re.compile(r"\b\d[\d -]{7,}\d\b")  # card, phone and account numbers


def redact(text: str, limit: int = 60) -> str:
    """A loggable stand-in for user text: masked, and cut to `limit` characters."""
    masked = _LONG_NUMBER.sub("[number]", _EMAIL.sub("[email]", text))
    return masked if len(masked) <= limit else masked[: limit - 1] + "…"
