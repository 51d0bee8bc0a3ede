"""One batch of entity operations through the Durable SDK's own entity executor.

The Functions host hands an entity function the entity's identity, whether it exists, its state
(JSON text) and a batch of operations; the SDK's `Entity.handle` (which `df.Entity.create` and
`@app.entity_trigger` register) runs the user's function once per operation and answers the new
state and one result per operation. This module builds that request and reads that answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .entity_store import EntityRecord, Request


@dataclass(frozen=True)
class OperationOutcome:
    is_error: bool
    result: str  # JSON text, as the SDK serialised it (an error's message for a failure)


@dataclass(frozen=True)
class BatchOutcome:
    exists: bool
    state: str | None  # JSON text
    results: list[OperationOutcome]


def entity_request_body(record: EntityRecord, requests: list[Request]) -> str:
    """The JSON the host sends an entity function: `self`, `exists`, `state` and `batch`."""
    return json.dumps(
        {
            "self": {"name": record.name, "key": record.key},
            "exists": record.exists,
            "state": record.state,
            # Each input is the operation's JSON text, JSON-encoded once more, as the host sends it.
            "batch": [
                {"name": request["op"], "input": json.dumps(request.get("input") or "null")}
                for request in requests
            ],
        }
    )


def run_batch(
    handle: Callable[[str], str], record: EntityRecord, requests: list[Request]
) -> BatchOutcome:
    """Run `requests` against the entity; the SDK reports an operation's exception as its result.

    Only a failure of the executor itself raises here (a malformed answer, an internal error);
    the caller then fails every operation of the batch and keeps the state it had.
    """
    answer: dict[str, Any] = json.loads(handle(entity_request_body(record, requests)))
    results = [
        OperationOutcome(bool(item["isError"]), item["result"]) for item in answer["results"]
    ]
    if len(results) != len(requests):
        raise RuntimeError(
            f"the entity function answered {len(results)} results for {len(requests)} operations"
        )
    exists = bool(answer["entityExists"])
    return BatchOutcome(exists, answer["entityState"] if exists else None, results)


def failed_batch(record: EntityRecord, requests: list[Request], message: str) -> BatchOutcome:
    """Every operation failed with `message`; the state stays as it was."""
    outcome = OperationOutcome(True, json.dumps(message))
    return BatchOutcome(record.exists, record.state, [outcome] * len(requests))
