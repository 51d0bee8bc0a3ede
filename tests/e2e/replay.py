"""Replaying an orchestration that devhost ran, from its stored history, through the Durable
SDK's own executor: the proof that an orchestrator is deterministic on the real engine's record."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devhost.durable.history import Event, scheduled_ids, scheduled_signature
from devhost.durable.replay import run_episode
from devhost.durable.store import DurableStore
from tests.e2e.conftest import app_functions


@dataclass(frozen=True, slots=True)
class Recorded:
    """An instance as devhost stored it."""

    status: str
    input_text: str | None
    output_text: str | None
    history: list[Event]


def recorded(database: Path, hub: str, instance_id: str) -> Recorded:
    with sqlite3.connect(database) as connection:
        status, input_text, output_text = connection.execute(
            "SELECT status, input, output FROM instances WHERE hub = ? AND instance_id = ?",
            (hub, instance_id),
        ).fetchone()
    store = DurableStore(database, hub)
    store.open()
    try:
        history = store.read_history(instance_id)
    finally:
        asyncio.run(store.close())
    return Recorded(status, input_text, output_text, history)


def replay(database: Path, hub: str, instance_id: str, orchestrator: str) -> tuple[Recorded, Any]:
    """The recorded instance and the outcome of replaying the whole of its history."""
    found = recorded(database, hub, instance_id)
    handle = next(
        f.get_user_function() for f in app_functions() if f.get_function_name() == orchestrator
    )
    outcome = run_episode(
        handle,
        instance_id=instance_id,
        parent_instance_id=None,
        input_text=found.input_text,
        history=found.history,
        known_ids=scheduled_ids(found.history),
        child_id_prefix=instance_id,
    )
    # The same actions in the same order, and nothing new to schedule.
    assert outcome.new_tasks == [] and outcome.signature == scheduled_signature(found.history)
    return found, outcome
