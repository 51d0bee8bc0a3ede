"""Reports through devhost: the daily timers fired by hand (twice: one report, one orchestration),
the orchestration's history replayed, and the admin routes that list and serve reports."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from agentops.reports.periods import report_work_for_previous_day
from devhost.testing import Devhost, start_devhost
from tests.e2e.conftest import (
    OPERATOR,
    PROJECT_ROOT,
    app_env,
    principal_headers,
    start_run,
    wait_run,
)
from tests.e2e.replay import replay

pytestmark = pytest.mark.slow
HUB = "reports"
USER = principal_headers("local", "someone", "runs.write")  # no admin role


def _report_instances(host: Devhost) -> list[dict]:
    response = httpx.get(
        f"{host.base_url}/runtime/webhooks/durabletask/instances",
        headers=host.master_headers,
        timeout=10,
    )
    response.raise_for_status()
    return [i for i in response.json() if i["instanceId"].startswith(("cost-", "compliance-"))]


def _fire(host: Devhost, timer: str) -> None:
    fired = httpx.post(
        f"{host.base_url}/admin/functions/{timer}",
        headers=host.master_headers,
        json={"input": None},
        timeout=10,
    )
    assert fired.status_code == 202


def _succeeded(host: Devhost, timer: str) -> int:
    return host.output.count(f"Executed '{timer}' (Succeeded")


def _fire_twice(host: Devhost, timer: str, report_id: str) -> dict:
    before = _succeeded(host, timer)
    _fire(host, timer)
    deadline = time.monotonic() + 90
    while not (
        (found := [i for i in _report_instances(host) if i["instanceId"] == report_id])
        and found[0]["runtimeStatus"] == "Completed"
    ):
        assert time.monotonic() < deadline, _report_instances(host)
        time.sleep(0.3)
    first = found[0]
    _fire(host, timer)  # the same day again
    while _succeeded(host, timer) < before + 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    again = [i for i in _report_instances(host) if i["instanceId"] == report_id]
    assert again == [first]  # one instance, not restarted: the second firing started nothing
    return first


def test_report_timers_and_routes(tmp_path: Path) -> None:
    data = tmp_path / "devhost"
    with (
        start_devhost(
            PROJECT_ROOT,
            env=app_env(tmp_path, TASKHUB_NAME=HUB),
            simulator=True,
            simulator_setting="MODEL_ENDPOINT",
            data_dir=data,
        ) as host,
        httpx.Client(
            base_url=host.base_url, headers={**host.function_headers, **OPERATOR}, timeout=30
        ) as api,
    ):
        wait_run(api, start_run(api, "calculator", ["1+1"])["runId"])
        now = datetime.now(UTC)
        cost_id = report_work_for_previous_day("cost", now).report_id
        compliance_id = report_work_for_previous_day("compliance", now).report_id
        cost = _fire_twice(host, "cost_report", cost_id)
        assert cost["output"]["report_id"] == cost_id
        assert cost["output"]["headline"]["items"] == 0  # yesterday: before this test's run
        _fire_twice(host, "compliance_report", compliance_id)
        reports = Path(host.env["BLOB_ROOT"]) / "reports"
        assert sorted(p.name for p in reports.iterdir()) == sorted(
            f"{i}.{ext}" for i in (cost_id, compliance_id) for ext in ("json", "html")
        )
        _routes(api, cost_id, compliance_id)
        _audited(tmp_path / "agentops.db", cost_id)
    _replays_to_the_same_actions(data / "durable.sqlite3", cost_id)


def _routes(api: httpx.Client, cost_id: str, compliance_id: str) -> None:
    listed = api.get("/api/reports")
    assert listed.status_code == 200, listed.text
    assert {r["id"] for r in listed.json()["reports"]} == {cost_id, compliance_id}
    costs = api.get("/api/reports", params={"kind": "cost", "limit": 1}).json()
    assert [r["id"] for r in costs["reports"]] == [cost_id]
    assert costs["continuation"] is None
    paged = api.get("/api/reports", params={"limit": 1}).json()
    assert paged["continuation"] == paged["reports"][0]["id"]
    rest = api.get("/api/reports", params={"limit": 1, "continuation": paged["continuation"]})
    assert len(rest.json()["reports"]) == 1 and rest.json()["continuation"] is None
    assert rest.json()["reports"][0]["id"] != paged["reports"][0]["id"]

    read = api.get(f"/api/reports/{cost_id}")
    assert read.status_code == 200, read.text
    assert read.json()["summary"]["id"] == cost_id
    assert read.json()["report"]["totals"]["tokens"]["items"] == 0
    page = api.get(f"/api/reports/{compliance_id}", params={"format": "html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<table" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'"), page.headers

    refused = api.get("/api/reports", headers=USER)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert api.get(f"/api/reports/{cost_id}", headers=USER).status_code == 403
    for params in ({"kind": "usage"}, {"limit": "0"}, {"continuation": "../x"}, {"other": "1"}):
        bad = api.get("/api/reports", params=params)
        assert bad.status_code == 400, (params, bad.text)
    assert api.get(f"/api/reports/{cost_id}", params={"format": "pdf"}).status_code == 400
    for bad_id in ("..", "cost-2026", "runs-20261201", "cost-20261201x", "%2e%2e"):
        bad = api.get(f"/api/reports/{bad_id}")
        assert bad.status_code in (400, 404), bad_id
        assert bad.headers["content-type"] == "application/problem+json"
    assert api.get("/api/reports/cost-20261201x").status_code == 400
    unknown = api.get("/api/reports/cost-19990101")
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/unknown-report")


def _audited(database: Path, cost_id: str) -> None:
    """Each report call left its entry, with the number of reports it handed back."""
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(database) as connection:
            rows = connection.execute("SELECT doc FROM audit ORDER BY tenant_id, seq").fetchall()
        entries = [json.loads(row[0]) for row in rows]
        reads = [e for e in entries if e["action"] == "report.read" and e["outcome"] == "allowed"]
        lists = [e for e in entries if e["action"] == "report.list" and e["outcome"] == "allowed"]
        if (len(reads) >= 2 and len(lists) >= 4) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [e["details"]["records"] for e in lists[:4]] == [2, 1, 1, 1]
    assert {e["resource"] for e in reads} >= {f"reports/{cost_id}"}
    assert all(e["details"]["records"] == 1 for e in reads)
    refused = [
        e for e in entries if e["action"].startswith("report.") and e["outcome"] != "allowed"
    ]
    assert refused and all("records" not in e["details"] for e in refused)
    # An id that names no report is recorded as a hash, never as the caller wrote it.
    assert not any("cost-19990101" in e["resource"] for e in entries)


def _replays_to_the_same_actions(database: Path, instance_id: str) -> None:
    found, outcome = replay(database, HUB, instance_id, "daily_report")
    assert outcome.done and outcome.error is None
    assert json.loads(outcome.output) == json.loads(found.output_text)
