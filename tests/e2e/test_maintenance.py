"""Scheduled maintenance through devhost: the hourly backup timer, fired by hand."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from agentops.backup import backup_work_for_hour
from devhost.testing import Devhost
from tests.e2e.conftest import start_run, wait_run


def _backup_instances(host: Devhost) -> list[dict]:
    response = httpx.get(
        f"{host.base_url}/runtime/webhooks/durabletask/instances",
        headers=host.master_headers,
        timeout=10,
    )
    response.raise_for_status()
    return [i for i in response.json() if i["instanceId"].startswith("backup-")]


def _fire(host: Devhost) -> None:
    fired = httpx.post(
        f"{host.base_url}/admin/functions/hourly_backup",
        headers=host.master_headers,
        json={"input": None},
        timeout=10,
    )
    assert fired.status_code == 202


def _succeeded(host: Devhost) -> int:
    return host.output.count("Executed 'hourly_backup' (Succeeded")


def test_a_timer_fired_twice_for_one_hour_backs_up_once(
    app_host: Devhost, api: httpx.Client
) -> None:
    wait_run(api, start_run(api, "calculator", ["1+1", "2+2"])["runId"])
    backup_id = backup_work_for_hour(datetime.now(UTC)).backup_id
    before = _succeeded(app_host)
    _fire(app_host)
    deadline = time.monotonic() + 60
    while not (
        (found := _backup_instances(app_host))
        and all(i["runtimeStatus"] == "Completed" for i in found)
    ):
        assert time.monotonic() < deadline, found
        time.sleep(0.3)
    first = found

    _fire(app_host)  # the same hour again
    while _succeeded(app_host) < before + 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    again = _backup_instances(app_host)
    # One instance, not restarted: the second firing started nothing.
    assert [i["instanceId"] for i in again] == [backup_id]
    assert again == first
    assert again[0]["output"]["counts"]["items"] >= 2
    backups = Path(app_host.env["BLOB_ROOT"]) / "backups"
    assert sorted(p.name for p in backups.iterdir()) == [backup_id]
    assert (backups / backup_id / "manifest.json").is_file()
