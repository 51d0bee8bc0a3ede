from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from agentops.model.types import Usage
from agentops.reports import access_event_from, item_usage_from, load_price_book
from agentops.reports.inputs import ItemUsage, Period
from agentops.reports.price_book import PriceBook
from agentops.store.records import AuditEntry, Item, ItemError, ItemStatus, Run

T = datetime(2026, 11, 2, 10, tzinfo=UTC)


def run() -> Run:
    return Run("r1", "tenant-a", "u1", "calc", 2, T)


def test_item_usage_from_store_records():
    done = Item(
        "r1",
        0,
        "what is 2+2",
        ItemStatus.COMPLETED,
        answer="4",
        usage=Usage(120, 30),
        cost=0.5,
        cached=True,
        saved_cost=0.25,
        model="gpt-4o-mini-2024",
        completed_at=T,
    )
    row = item_usage_from(done, run(), "gpt-4o-mini")
    assert row == ItemUsage(
        at=T,
        tenant_id="tenant-a",
        agent="calc",
        deployment="gpt-4o-mini",
        prompt_tokens=120,
        completion_tokens=30,
        model="gpt-4o-mini-2024",
        recorded_cost=0.5,
        cache_hit=True,
        saved_cost=0.25,
    )
    failed = Item(
        "r1", 1, "q", ItemStatus.FAILED, error=ItemError("permanent", "x"), completed_at=T
    )
    assert item_usage_from(failed, run(), "gpt-4o-mini").failed is True
    assert item_usage_from(Item("r1", 2, "q"), run(), "gpt-4o-mini") is None


def entry(outcome: str, **details) -> AuditEntry:
    return AuditEntry("e1", "tenant-a", 0, T, "u1", "run.read", "runs/SECRET-ID", outcome, details)


def test_access_event_from_an_audit_entry():
    allowed = access_event_from(
        entry("accepted", agent="triage", status=200, records=50, client_ip="192.0.2.1"),
        sensitive_agents={"triage"},
    )
    assert allowed.refusal is None
    assert allowed.sensitive_agent == "triage"
    assert (allowed.status_code, allowed.records_read, allowed.client_ip) == (200, 50, "192.0.2.1")

    refused = access_event_from(entry("refused", kind="forbidden", resource_tenant="tenant-b"))
    assert refused.refusal == "forbidden"
    assert refused.cross_tenant is True
    assert access_event_from(entry("denied")).refusal == "denied"  # no kind: the outcome


def test_access_event_keeps_no_caller_text():
    # An agent name that is not a configured sensitive agent may be anything a caller typed.
    event = access_event_from(
        entry("refused", agent="<script>", status="500", records=True), sensitive_agents={"triage"}
    )
    assert event.sensitive_agent is None
    assert (event.status_code, event.records_read) == (None, 0)  # wrong types are not read
    assert "SECRET-ID" not in repr(event)


def test_rows_refuse_naive_times_and_impossible_counts():
    with pytest.raises(ValueError, match="timezone"):
        ItemUsage(datetime(2026, 11, 2), "t", "a", "d")
    with pytest.raises(ValueError, match="cached"):
        ItemUsage(T, "t", "a", "d", prompt_tokens=10, cached_tokens=11)
    with pytest.raises(ValueError, match="end after"):
        Period(T, T)


def test_price_book_records_its_version_and_sources():
    book = load_price_book()
    assert book.version
    for section in (book.tokens, book.flex_consumption, book.blob_storage):
        assert section.source.startswith("https://")
        assert section.as_of is not None
    assert book.token_price("no-such-deployment") is None


def test_price_book_refuses_bad_tables(tmp_path):
    doc = load_price_book().model_dump(mode="json")
    doc["tokens"]["prices"]["gpt-4o"]["smaller"] = "gpt-unknown"
    with pytest.raises(ValueError, match="has no price"):
        PriceBook.model_validate(doc)
    doc = load_price_book().model_dump(mode="json")
    doc["tokens"]["prices"]["gpt-4o"]["input"] = -1
    with pytest.raises(ValueError):
        PriceBook.model_validate(doc)
    path = tmp_path / "prices.yaml"
    path.write_text(yaml.safe_dump(["not", "a", "mapping"]))
    with pytest.raises(ValueError, match="mapping"):
        load_price_book(path)
