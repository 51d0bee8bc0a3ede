"""How a stored document changes, as pure functions shared by both adapters.

Each builder returns a `Change`: given the current document (None if there is none) it returns
the document to write (None: write nothing) and the caller's result. The adapters only supply
the read-change-write around it (a SQLite transaction, a Cosmos DB if-match replace), so the
rules (an item leaves pending once, attempts count only while pending, a thread keeps its owner
and version) are written here once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from agentops.store.errors import ConcurrencyError
from agentops.store.records import (
    ItemError,
    ItemOutcome,
    ItemStatus,
    Message,
    Run,
    Thread,
    ThreadOwner,
    appended_thread,
    apply_run_changes,
    completed_item_doc,
    retexted_thread,
)

type Doc = dict[str, Any]
type Change[T] = Callable[[Doc | None], tuple[Doc | None, T]]


def run_update(run_id: str, changes: dict[str, Any], now: datetime) -> Change[Run]:
    def change(doc: Doc | None) -> tuple[Doc | None, Run]:
        if doc is None:
            raise KeyError(f"run {run_id} does not exist")
        updated = apply_run_changes(Run.from_doc(doc), changes, now)
        return updated.to_doc(), updated

    return change


def _missing_item(run_id: str, index: int) -> KeyError:
    return KeyError(f"item {index} of run {run_id} does not exist")


def item_completion(run_id: str, index: int, outcome: ItemOutcome, now: datetime) -> Change[bool]:
    """Pending -> the outcome, once: a second call (a re-executed activity) changes nothing."""

    def change(doc: Doc | None) -> tuple[Doc | None, bool]:
        if doc is None:
            raise _missing_item(run_id, index)
        if doc["status"] != ItemStatus.PENDING:
            return None, False
        return completed_item_doc(doc, outcome, now), True

    return change


def item_attempt(run_id: str, index: int, error: ItemError) -> Change[int]:
    """One more failed attempt on a pending item; a terminal item keeps its count."""

    def change(doc: Doc | None) -> tuple[Doc | None, int]:
        if doc is None:
            raise _missing_item(run_id, index)
        if doc["status"] != ItemStatus.PENDING:
            return None, int(doc["attempts"])
        attempts = int(doc["attempts"]) + 1
        return {**doc, "attempts": attempts, "error": error.to_doc()}, attempts

    return change


def item_text_swap(run_id: str, index: int, field: str, expected: str, new: str) -> Change[bool]:
    def change(doc: Doc | None) -> tuple[Doc | None, bool]:
        if doc is None:
            raise _missing_item(run_id, index)
        if doc.get(field) != expected:
            return None, False
        return {**doc, field: new}, True

    return change


def thread_append(
    thread_id: str,
    owner: ThreadOwner,
    messages: tuple[Message, ...],
    max_messages: int,
    now: datetime,
    *,
    encrypted: bool,
    expected_version: int | None,
) -> Change[Thread]:
    def change(doc: Doc | None) -> tuple[Doc | None, Thread]:
        current = None if doc is None else Thread.from_doc(doc)
        version = current.version if current else 0
        if expected_version is not None and expected_version != version:
            raise ConcurrencyError(
                f"thread {thread_id} is at version {version}, not {expected_version}"
            )
        thread = appended_thread(
            current, thread_id, owner, messages, max_messages, now, encrypted=encrypted
        )
        return thread.to_doc(), thread

    return change


def thread_retext(
    thread_id: str, texts: tuple[str, ...], expected_version: int, now: datetime
) -> Change[Thread]:
    def change(doc: Doc | None) -> tuple[Doc | None, Thread]:
        if doc is None:
            raise KeyError(f"thread {thread_id} does not exist")
        thread = retexted_thread(Thread.from_doc(doc), texts, expected_version, now)
        return thread.to_doc(), thread

    return change
