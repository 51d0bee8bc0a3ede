"""The engine's clock: real time, or real time plus a skip offset for tests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class EngineClock:
    """UTC clock that can jump forward to the next durable timer when time skipping is on."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance_to(self, moment: datetime) -> None:
        """Move the clock forward so that now() >= moment; never backwards."""
        with self._lock:
            gap = moment - (datetime.now(UTC) + self._offset)
            if gap > timedelta():
                self._offset += gap


def format_time(moment: datetime) -> str:
    """ISO 8601 UTC with a Z suffix, the shape the Durable extension emits."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment
