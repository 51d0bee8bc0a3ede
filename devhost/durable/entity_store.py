"""Entity state and pending entity operations in the durable engine's SQLite file.

Entities live beside the orchestrations, in the same task hub and the same file, and every change
goes through the engine's group commit (`DurableStore.submit`). A batch of operations commits its
new state and the removal of the operations it processed in one transaction, so after a crash an
operation has either changed the state and left the queue, or done neither: it runs again, with an
effect on the state exactly once.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .store import Statement

SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    hub TEXT NOT NULL, entity_id TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL,
    state TEXT, last_operation_time TEXT NOT NULL,
    PRIMARY KEY (hub, entity_id)
);
CREATE TABLE IF NOT EXISTS entity_queue (
    hub TEXT NOT NULL, id INTEGER NOT NULL, entity_id TEXT NOT NULL, request TEXT NOT NULL,
    PRIMARY KEY (hub, id)
);
"""

# A request as queued for an entity: {"id", "op", "signal", "input", "parent", "parentExecution"}.
Request = dict[str, Any]


def scheduler_id(name: str, key: str) -> str:
    """The instance id Durable Functions gives an entity: `@name@key`, the name lower-cased."""
    return f"@{name.lower()}@{key}"


def split_scheduler_id(entity_id: str) -> tuple[str, str]:
    if not entity_id.startswith("@") or "@" not in entity_id[1:]:
        raise ValueError(f"not an entity instance id: {entity_id!r}")
    name, key = entity_id[1:].split("@", 1)
    return name, key


@dataclass
class EntityRecord:
    """One entity: its persisted state (JSON text) and the operations waiting for it."""

    entity_id: str
    name: str  # lower-cased, as Durable Functions stores entity names
    key: str
    exists: bool = False
    state: str | None = None
    last_operation_time: str = ""
    queue: list[tuple[int, Request]] = field(default_factory=list)


@dataclass
class LoadedEntities:
    records: dict[str, EntityRecord] = field(default_factory=dict)
    max_queue_id: int = 0


def load(path: Path, hub: str) -> LoadedEntities:
    """Create the entity tables if needed and read every entity and pending operation (blocking)."""
    loaded = LoadedEntities()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(SCHEMA)
        for entity_id, name, key, state, last in conn.execute(
            "SELECT entity_id, name, key, state, last_operation_time FROM entities WHERE hub = ?",
            (hub,),
        ):
            loaded.records[entity_id] = EntityRecord(entity_id, name, key, True, state, last)
        for row_id, entity_id, request in conn.execute(
            "SELECT id, entity_id, request FROM entity_queue WHERE hub = ? ORDER BY id", (hub,)
        ):
            record = loaded.records.get(entity_id)
            if record is None:
                name, key = split_scheduler_id(entity_id)
                record = loaded.records[entity_id] = EntityRecord(entity_id, name, key)
            record.queue.append((row_id, json.loads(request)))
            loaded.max_queue_id = max(loaded.max_queue_id, row_id)
    finally:
        conn.close()
    return loaded


def enqueue_statement(hub: str, row_id: int, entity_id: str, request: Request) -> Statement:
    return (
        "INSERT INTO entity_queue (hub, id, entity_id, request) VALUES (?,?,?,?)",
        (hub, row_id, entity_id, json.dumps(request)),
    )


def batch_statements(hub: str, record: EntityRecord, processed: list[int]) -> list[Statement]:
    """The entity's state after a batch, and the batch's operations leaving the queue."""
    statements: list[Statement] = [
        ("DELETE FROM entity_queue WHERE hub = ? AND id = ?", (hub, row_id)) for row_id in processed
    ]
    if record.exists:
        statements.append(
            (
                "INSERT OR REPLACE INTO entities (hub, entity_id, name, key, state,"
                " last_operation_time) VALUES (?,?,?,?,?,?)",
                (
                    hub,
                    record.entity_id,
                    record.name,
                    record.key,
                    record.state,
                    record.last_operation_time,
                ),
            )
        )
    else:
        statements.append(
            ("DELETE FROM entities WHERE hub = ? AND entity_id = ?", (hub, record.entity_id))
        )
    return statements
