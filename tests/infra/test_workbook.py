"""The workbook: workbook.json is what build_workbook.py makes from the query files (so no query
is edited in two places), and it has the structure Azure Monitor needs to load it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.monitoring import build_workbook

MONITORING = Path(__file__).resolve().parents[2] / "infra" / "monitoring"
COMPONENTS = "microsoft.insights/components"


@pytest.fixture(scope="module")
def workbook() -> dict:
    return json.loads((MONITORING / "workbook.json").read_text(encoding="utf-8"))


def test_the_committed_json_is_current() -> None:
    script = MONITORING / "build_workbook.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_check_fails_on_a_stale_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "workbook.json"
    stale.write_text(build_workbook.render().replace("p99", "p98"), encoding="utf-8")
    monkeypatch.setattr(build_workbook, "OUTPUT", stale)
    monkeypatch.setattr(build_workbook, "HERE", tmp_path / "infra" / "monitoring")
    assert build_workbook.main(["--check"]) == 1
    stale.write_text(build_workbook.render(), encoding="utf-8")
    assert build_workbook.main(["--check"]) == 0


def test_schema_fields_azure_needs(workbook: dict) -> None:
    assert workbook["version"] == "Notebook/1.0"
    assert isinstance(workbook["items"], list) and workbook["items"]
    names = [item["name"] for item in workbook["items"]]
    assert len(names) == len(set(names))
    assert workbook["fallbackResourceIds"] == [build_workbook.FALLBACK_RESOURCE]
    for item in workbook["items"]:
        assert item["type"] in (1, 3, 9), item["name"]
        assert isinstance(item["content"], dict), item["name"]


def test_a_time_range_parameter_drives_every_query(workbook: dict) -> None:
    (parameters,) = [item for item in workbook["items"] if item["type"] == 9]
    assert parameters["content"]["version"] == "KqlParameterItem/1.0"
    (time_range,) = parameters["content"]["parameters"]
    assert time_range["type"] == 4  # a time range picker
    assert time_range["name"] == "TimeRange" and time_range["value"]["durationMs"] > 0
    queries = [item for item in workbook["items"] if item["type"] == 3]
    assert len(queries) >= 15
    for item in queries:
        content = item["content"]
        assert content["version"] == "KqlItem/1.0", item["name"]
        assert content["queryType"] == 0, item["name"]  # Logs (KQL)
        assert content["resourceType"] == COMPONENTS, item["name"]
        assert content["timeContextFromParameter"] == "TimeRange", item["name"]
        assert content["title"] and content["visualization"], item["name"]
        assert "{TimeRange" not in content["query"] or "{TimeRange:grain}" in content["query"]


def test_each_query_is_its_file_verbatim(workbook: dict) -> None:
    for item in (item for item in workbook["items"] if item["type"] == 3):
        path = MONITORING / "queries" / f"{item['name']}.kql"
        assert item["content"]["query"] == path.read_text(encoding="utf-8"), item["name"]


def test_it_shows_what_the_issue_asks_for(workbook: dict) -> None:
    text = json.dumps([item["content"].get("query", "") for item in workbook["items"]])
    for name in (
        "agent.requests.total",
        "agent.errors.total",
        "agent.tokens.used",
        "agentops.cost",
        "agentops.cache.lookups",
        "agentops.breaker.state",
        "agentops.runs.finished",
        "agentops.items.finished",
        "agentops.items.retries",
        "agentops.items.deferrals",
        "agentops.budget.refusals",
        "agentops.maintenance.runs",
    ):
        assert name in text, name
    assert "percentiles(duration, 50, 95, 99)" in text
