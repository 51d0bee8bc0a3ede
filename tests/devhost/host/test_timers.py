"""Timer triggers: on demand through the admin API, and on their NCRONTAB schedule."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from devhost.testing import Devhost


def _marks(directory: Path, kind: str) -> list[dict[str, object]]:
    path = directory / f"{kind}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_timer_on_demand_is_202_and_runs(
    client: httpx.Client, devhost: Devhost, timer_marks: Path
) -> None:
    before = len(_marks(timer_marks, "yearly"))
    response = client.post(
        "/admin/functions/yearly", json={"input": ""}, headers=devhost.master_headers
    )
    assert response.status_code == 202
    _wait_for(lambda: len(_marks(timer_marks, "yearly")) == before + 1)
    assert _marks(timer_marks, "yearly")[-1] == {"past_due": False}


def test_function_names_are_case_insensitive(
    client: httpx.Client, devhost: Devhost, timer_marks: Path
) -> None:
    before = len(_marks(timer_marks, "yearly"))
    response = client.post("/admin/functions/YEARLY", headers=devhost.master_headers)
    assert response.status_code == 202
    _wait_for(lambda: len(_marks(timer_marks, "yearly")) == before + 1)


def test_unknown_function_is_404(client: httpx.Client, devhost: Devhost) -> None:
    response = client.post("/admin/functions/nope", json={}, headers=devhost.master_headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_http_function_is_not_invoked_through_admin(client: httpx.Client, devhost: Devhost) -> None:
    response = client.post("/admin/functions/echo", json={}, headers=devhost.master_headers)
    assert response.status_code == 400


def test_malformed_admin_body_is_400(client: httpx.Client, devhost: Devhost) -> None:
    response = client.post(
        "/admin/functions/yearly", content=b"{not json", headers=devhost.master_headers
    )
    assert response.status_code == 400


def test_failing_timer_is_logged_not_fatal(client: httpx.Client, devhost: Devhost) -> None:
    response = client.post("/admin/functions/failing_timer", headers=devhost.master_headers)
    assert response.status_code == 202
    devhost.wait_for_output("Executed 'failing_timer' (Failed")
    devhost.wait_for_output("timer failure is logged, not fatal")
    assert devhost.running
    assert client.get("/").status_code == 200


def test_schedule_from_setting_fires_every_second(timer_marks: Path, devhost: Devhost) -> None:
    start = len(_marks(timer_marks, "every_second"))
    _wait_for(lambda: len(_marks(timer_marks, "every_second")) >= start + 2, timeout=4.0)


def test_run_on_startup_fires_once_at_start(timer_marks: Path, devhost: Devhost) -> None:
    _wait_for(lambda: len(_marks(timer_marks, "at_startup")) == 1)
    time.sleep(0.2)
    assert _marks(timer_marks, "at_startup") == [{"past_due": False}]
