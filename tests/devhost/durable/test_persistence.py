"""Durable state survives a stop, and a SIGKILL, of the process running the engine."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from devhost.testing import start_devhost

from .conftest import APPS, wait_for_status

pytestmark = pytest.mark.timeout(60)


async def test_restart_on_the_same_database_resumes_waiting_and_in_flight_work(
    serve_engine, tmp_path: Path
):
    db_path = tmp_path / "restart.sqlite3"
    first = await serve_engine("durable_patterns", db_path=db_path)
    waiting = await first.client.start_new("approval")
    await wait_for_status(first.client, waiting, "Running")
    fanned = await first.client.start_new("fan_out", client_input=50)
    await first.engine.stop()  # with activities of the fan-out most likely still queued

    second = await serve_engine("durable_patterns", db_path=db_path)
    assert (await second.client.get_status(waiting)).runtime_status.value == "Running"
    await second.client.raise_event(waiting, "Approval", "yes")
    await second.client.raise_event(waiting, "Comment", "after restart")
    status = await wait_for_status(second.client, waiting)
    assert status.output == {"approval": "yes", "comment": "after restart"}
    status = await wait_for_status(second.client, fanned)
    assert status.runtime_status == OrchestrationRuntimeStatus.Completed
    assert status.output == sum(i * i for i in range(50))


async def test_pending_timer_fires_after_restart(serve_engine, tmp_path: Path):
    db_path = tmp_path / "timer.sqlite3"
    first = await serve_engine("durable_patterns", db_path=db_path, time_skipping=False)
    instance_id = await first.client.start_new("long_timer")
    await wait_for_status(first.client, instance_id, "Running")
    await first.engine.stop()
    second = await serve_engine("durable_patterns", db_path=db_path, time_skipping=True)
    status = await wait_for_status(second.client, instance_id)
    assert status.output >= 6 * 3600


@pytest.mark.slow
def test_sigkill_mid_orchestration_resumes_and_reruns_in_flight_activities(tmp_path: Path):
    markers = tmp_path / "markers"
    markers.mkdir()
    count = 3
    with start_devhost(APPS / "durable_crash", env={"CRASH_MARKER_DIR": str(markers)}) as devhost:
        response = httpx.post(devhost.url("/api/start"), json={"count": count, "seconds": 1.0})
        assert response.status_code == 202
        status_url = response.json()["statusQueryGetUri"]
        deadline = time.monotonic() + 20
        # A whole start line each: the file exists before its line is written.
        while sum(p.read_text().endswith("\n") for p in markers.glob("slow-*.log")) < count:
            assert time.monotonic() < deadline, devhost.output
            time.sleep(0.02)
        devhost.kill()  # SIGKILL while every slow activity is in flight
        devhost.restart()
        (markers / "release").touch()
        deadline = time.monotonic() + 30
        while True:
            status = httpx.get(status_url, headers=devhost.master_headers).json()
            if status["runtimeStatus"] not in ("Pending", "Running"):
                break
            assert time.monotonic() < deadline, devhost.output
            time.sleep(0.05)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == ["before", *range(count)]
    for index in range(count):
        runs = (markers / f"slow-{index}.log").read_text().splitlines()
        assert len(runs) == 2, runs  # interrupted once, run again after the restart
        assert runs[0] != runs[1]  # by two different processes
