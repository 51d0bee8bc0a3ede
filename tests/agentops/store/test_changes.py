"""The document changes both adapters apply: pure functions, tested without a store."""

from __future__ import annotations

import pytest

from agentops.store import ConcurrencyError, Item, ItemError, ItemOutcome, ItemStatus
from agentops.store.changes import (
    item_attempt,
    item_completion,
    item_text_swap,
    thread_append,
)
from tests.agentops.store.samples import ALICE, T0, answer, msgs


def pending() -> dict:
    return Item("run-1", 0, "q").to_doc()


def test_an_item_leaves_pending_once():
    doc, moved = item_completion("run-1", 0, answer("42"), T0)(pending())
    assert moved is True and doc["status"] == ItemStatus.COMPLETED and doc["attempts"] == 1
    assert item_completion("run-1", 0, answer("again"), T0)(doc) == (None, False)
    with pytest.raises(KeyError):
        item_completion("run-1", 0, answer(), T0)(None)


def test_a_completed_document_is_the_item_with_its_outcome():
    doc, _ = item_attempt("run-1", 0, ItemError("transient", "429"))(pending())
    failed = ItemOutcome.failed(ItemError("permanent", "content filter"), cost=0.5)
    for outcome, status in ((answer("42"), ItemStatus.COMPLETED), (failed, ItemStatus.FAILED)):
        new, _ = item_completion("run-1", 0, outcome, T0)(doc)
        item = Item.from_doc(new)
        assert item.to_doc() == new  # the same shape as every stored item
        assert (item.query, item.status, item.attempts, item.completed_at) == ("q", status, 2, T0)
        assert (item.answer, item.error, item.usage, item.cost) == (
            outcome.answer,
            outcome.error,
            outcome.usage,
            outcome.cost,
        )


def test_attempts_count_only_while_pending():
    doc, attempts = item_attempt("run-1", 0, ItemError("transient", "429"))(pending())
    assert attempts == 1 and doc["error"] == {"kind": "transient", "message": "429"}
    done, _ = item_completion("run-1", 0, answer(), T0)(doc)
    assert item_attempt("run-1", 0, ItemError("transient", "late"))(done) == (None, 2)


def test_text_swap_needs_the_expected_text():
    assert item_text_swap("run-1", 0, "query", "stale", "Q")(pending()) == (None, False)
    doc, swapped = item_text_swap("run-1", 0, "query", "q", "Q")(pending())
    assert swapped and doc["query"] == "Q"


def test_thread_append_checks_the_version_before_anything():
    doc, thread = thread_append(
        "t-1", ALICE, tuple(msgs("a")), 5, T0, encrypted=False, expected_version=0
    )(None)
    assert thread.version == 1 and doc["version"] == 1
    stale = thread_append(
        "t-1", ALICE, tuple(msgs("b")), 5, T0, encrypted=False, expected_version=0
    )
    with pytest.raises(ConcurrencyError):
        stale(doc)
