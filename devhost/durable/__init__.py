"""devhost's durable engine: the Durable SDK's own replay, state in SQLite."""

from .engine import DurableEngine

__all__ = ["DurableEngine"]
