"""devhost's durable engine: the Durable SDK's own replay, state in SQLite."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import DurableEngine

__all__ = ["DurableEngine"]


def __getattr__(name: str) -> Any:
    # Lazy, so that the URL helpers in `binding` import without the Durable SDK installed.
    if name == "DurableEngine":
        from .engine import DurableEngine

        return DurableEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
