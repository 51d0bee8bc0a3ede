from __future__ import annotations

import base64
import json
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from agentops.reports import (
    ChainCheck,
    access_event_from,
    build_compliance_report,
    build_cost_report,
)
from agentops.reports.html import render_compliance_html, render_cost_html
from agentops.store.records import AuditEntry
from tests.agentops.reports.sample import DAY, at

MARKER = "SECRET-CALLER-TEXT"


class Page(HTMLParser):
    """What an accessibility check looks at: images and their alt text, captions, headings."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.captions: list[str] = []
        self.headings: list[str] = []
        self._open: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        self._open.append(tag)

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        if not self._open or not data.strip():
            return
        if self._open[-1] == "caption":
            self.captions.append(data.strip())
        elif self._open[-1] in {"h1", "h2"}:
            self.headings.append(data.strip())


def charts(page: Page) -> list[bytes]:
    prefix = "data:image/svg+xml;base64,"
    svgs = []
    for image in page.images:
        src = image["src"] or ""
        assert src.startswith(prefix)
        assert image.get("alt")
        svgs.append(base64.b64decode(src.removeprefix(prefix)))
    return svgs


@pytest.fixture(scope="module")
def cost_page() -> tuple[str, object]:
    from agentops.reports import ComputeActivity, ItemUsage, load_price_book

    items = [
        ItemUsage(at(1), "tenant-a", "calc", "gpt-4o-mini", 1000, 100),
        ItemUsage(at(2), "tenant-b", "summ", "llama-<b>local</b>", 300, 100),
    ]
    report = build_cost_report(
        items,
        period=DAY,
        prices=load_price_book(),
        generated_at=DAY.end,
        compute=ComputeActivity(100, 60.0, always_ready_instances=1),
    )
    return render_cost_html(report), report


def test_cost_page_has_its_charts_tables_and_unpriced_marks(cost_page):
    text, report = cost_page
    page = Page(text)
    svgs = charts(page)
    assert len(svgs) == 3
    assert all(b"<svg" in svg for svg in svgs)
    assert any(b"gpt-4o-mini" in svg for svg in svgs)  # text stays text in the SVG
    assert page.headings[:2] == ["Cost report", "Totals"]
    assert "Recommendations" in page.headings
    for caption in (
        "Tokens and cost by deployment",
        "Tokens and cost by agent",
        "Tokens and cost by tenant",
        "Change against the period before",
    ):
        assert caption in page.captions
    assert report.prices.version in text
    assert "unpriced" in text
    # Names are escaped, not markup.
    assert "llama-&lt;b&gt;local&lt;/b&gt;" in text
    assert "<b>local" not in text
    assert "low_always_ready_utilisation" in text  # the rule behind the recommendation


def test_compliance_page_holds_no_caller_text():
    def entry(seq: int, hours: float, outcome: str, **details) -> AuditEntry:
        return AuditEntry(
            f"e{seq}",
            "tenant-a",
            seq,
            at(hours),
            "u1",
            "run.read",
            f"runs/{MARKER}",
            outcome,
            {"query": MARKER, **details},
        )

    entries = [
        entry(0, 10, "accepted", agent="triage", records=3),
        entry(1, 10.1, "refused", kind="forbidden", agent=MARKER),
        entry(2, 23, "refused", kind="not_found", resource_tenant="tenant-b"),
    ]
    events = [access_event_from(e, sensitive_agents={"triage"}) for e in entries]
    report = build_compliance_report(
        events, period=DAY, chains=[ChainCheck("tenant-a", 3)], generated_at=DAY.end
    )
    text = render_compliance_html(report)
    page = Page(text)
    svgs = charts(page)
    assert len(svgs) == 2  # accesses by hour, refusals by kind
    for caption in (
        "Accesses in the period",
        "Refusals by kind",
        "Verification of each tenant's audit chain",
        "Anomalies, with the rule that flagged each",
    ):
        assert caption in page.captions
    assert "cross_tenant_attempt" in text and "outside_working_hours" in text
    assert "triage" in text
    assert MARKER not in text
    assert all(MARKER.encode() not in svg for svg in svgs)
    assert MARKER not in report.model_dump_json()


def test_json_is_the_model_dump(cost_page):
    _, report = cost_page
    doc = json.loads(report.model_dump_json())
    assert doc["unpriced_deployments"] == ["llama-<b>local</b>"]
    assert doc["by_deployment"][0]["cost"] is None


def test_importing_the_reports_loads_no_plotting_or_template_library():
    code = (
        "import sys, agentops.reports, agentops.reports.html;"
        "print(sorted(m for m in ('matplotlib', 'jinja2') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
