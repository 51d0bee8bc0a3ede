"""Scheduled maintenance through devhost: the hourly backup timer, fired by hand, and the
backup orchestration's history replayed through the Durable SDK's own executor."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from agentops.backup import backup_work_for_hour
from agentops.backup.periods import manual_backup_work
from devhost.testing import Devhost, start_devhost
from tests.e2e.conftest import (
    OPERATOR,
    PROJECT_ROOT,
    app_env,
    start_run,
    wait_run,
)
from tests.e2e.replay import replay

pytestmark = pytest.mark.slow
HUB = "maintenance"


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


def test_a_timer_fired_twice_for_one_hour_backs_up_once(tmp_path: Path) -> None:
    data = tmp_path / "devhost"
    with (
        start_devhost(
            PROJECT_ROOT,
            # One document per range: every collection fans out over several activities.
            env=app_env(tmp_path, TASKHUB_NAME=HUB, BACKUP_RANGE_DOCS="1"),
            simulator=True,
            simulator_setting="MODEL_ENDPOINT",
            data_dir=data,
        ) as host,
        httpx.Client(
            base_url=host.base_url, headers={**host.function_headers, **OPERATOR}, timeout=30
        ) as api,
    ):
        backup_id = _back_up_twice(host, api)
        incremental_id = _back_up_what_changed(host, api, backup_id)
    _replays_to_the_same_actions(data / "durable.sqlite3", backup_id)
    _replays_to_the_same_actions(data / "durable.sqlite3", incremental_id)


def _back_up_what_changed(app_host: Devhost, api: httpx.Client, base_id: str) -> str:
    """A second backup after another run: an incremental on the first, holding that run."""
    run_id = start_run(api, "calculator", ["3+3"])["runId"]
    wait_run(api, run_id)
    work = manual_backup_work(datetime.now(UTC))
    response = httpx.post(
        f"{app_host.base_url}/runtime/webhooks/durabletask/orchestrators/store_backup/"
        f"{work.backup_id}",
        params={"timeout": 60},
        headers=app_host.master_headers,
        json=work.model_dump(mode="json"),
        timeout=90,
    )
    assert response.status_code == 200, response.text
    output = response.json()
    assert (output["kind"], output["base"]) == ("incremental", base_id)
    # The new run, and the first one again if it ended within the minute's margin before the
    # first backup's watermark; never more.
    assert 1 <= output["counts"]["runs"] <= 2
    assert 1 <= output["counts"]["items"] <= 3
    assert output["pruned"] == {"deleted": [], "incomplete": []}
    return work.backup_id


def _back_up_twice(app_host: Devhost, api: httpx.Client) -> str:
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
    manifest = json.loads((backups / backup_id / "manifest.json").read_bytes().split(b"\n", 1)[1])
    items = {p["range_index"] for p in manifest["parts"] if p["collection"] == "items"}
    assert len(items) == again[0]["output"]["counts"]["items"] + 1  # the last range open above
    return backup_id


def _replays_to_the_same_actions(database: Path, backup_id: str) -> None:
    found, outcome = replay(database, HUB, backup_id, "store_backup")
    assert outcome.done and outcome.error is None
    assert json.loads(outcome.output) == json.loads(found.output_text)
