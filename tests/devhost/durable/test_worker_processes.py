"""Activities in worker processes (FUNCTIONS_WORKER_PROCESS_COUNT): they run outside the host
process, over several workers, and survive the loss of a worker or of the whole host."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from devhost.durable.worker_pool import WORKER_COUNT_SETTING, worker_count
from devhost.testing import DevhostStartError, start_devhost

from .conftest import APPS

pytestmark = pytest.mark.timeout(90)


def _start_slow(devhost, count: int, seconds: float) -> str:
    response = httpx.post(devhost.url("/api/start"), json={"count": count, "seconds": seconds})
    assert response.status_code == 202, response.text
    return response.json()["statusQueryGetUri"]


def _wait_terminal(devhost, status_url: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = httpx.get(status_url, headers=devhost.master_headers).json()
        if status["runtimeStatus"] not in ("Pending", "Running"):
            return status
        assert time.monotonic() < deadline, devhost.output
        time.sleep(0.05)


def _wait_markers(markers: Path, count: int, devhost) -> None:
    """Until `count` activities wrote their whole start line (a file can exist still empty)."""
    deadline = time.monotonic() + 20
    while sum(p.read_text().endswith("\n") for p in markers.glob("slow-*.log")) < count:
        assert time.monotonic() < deadline, devhost.output
        time.sleep(0.02)


def _pids(markers: Path, index: int) -> list[int]:
    lines = (markers / f"slow-{index}.log").read_text().splitlines()
    return [int(line.rsplit(" ", 1)[1]) for line in lines]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def test_activities_run_in_the_worker_processes_spread_over_them(tmp_path: Path):
    markers = tmp_path / "markers"
    markers.mkdir()
    (markers / "release").touch()  # the slow activities need not wait for anything
    env = {"CRASH_MARKER_DIR": str(markers), WORKER_COUNT_SETTING: "2"}
    with start_devhost(APPS / "durable_crash", env=env) as devhost:
        deadline = time.monotonic() + 20
        while devhost.output.count("activity worker") < 2 or devhost.output.count(" ready\n") < 2:
            assert time.monotonic() < deadline, devhost.output
            time.sleep(0.05)
        status = _wait_terminal(devhost, _start_slow(devhost, count=4, seconds=0.3))
        assert devhost.process is not None
        host_pid = devhost.process.pid
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == ["before", 0, 1, 2, 3]
    pids = {pid for index in range(4) for pid in _pids(markers, index)}
    assert host_pid not in pids
    assert len(pids) == 2  # the least busy worker takes the next activity


def test_a_killed_worker_is_replaced_and_its_activities_run_again(tmp_path: Path):
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {"CRASH_MARKER_DIR": str(markers), WORKER_COUNT_SETTING: "1"}
    with start_devhost(APPS / "durable_crash", env=env) as devhost:
        status_url = _start_slow(devhost, count=2, seconds=1.0)
        _wait_markers(markers, 2, devhost)
        victim = _pids(markers, 0)[0]
        os.kill(victim, signal.SIGKILL)
        (markers / "release").touch()
        status = _wait_terminal(devhost, status_url)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == ["before", 0, 1]
    for index in range(2):
        runs = _pids(markers, index)
        assert len(runs) == 2, runs  # interrupted once, run again by the new worker
        assert runs[0] == victim and runs[1] != victim


def test_sigkill_of_the_host_takes_its_workers_and_loses_no_activity(tmp_path: Path):
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {"CRASH_MARKER_DIR": str(markers), WORKER_COUNT_SETTING: "2"}
    with start_devhost(APPS / "durable_crash", env=env) as devhost:
        status_url = _start_slow(devhost, count=3, seconds=1.0)
        _wait_markers(markers, 3, devhost)
        workers = {_pids(markers, index)[0] for index in range(3)}
        devhost.kill()
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in workers):
            assert time.monotonic() < deadline, f"workers {workers} outlived the host"
            time.sleep(0.02)
        devhost.restart()
        (markers / "release").touch()
        status = _wait_terminal(devhost, status_url)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == ["before", 0, 1, 2]
    for index in range(3):
        runs = _pids(markers, index)
        assert len(runs) == 2, runs
        assert runs[1] not in workers


@pytest.mark.parametrize("value", ["0", "11", "two"])
def test_a_bad_worker_count_stops_devhost_naming_the_setting(tmp_path: Path, value: str):
    env = {"CRASH_MARKER_DIR": str(tmp_path), WORKER_COUNT_SETTING: value}
    with (
        pytest.raises(DevhostStartError) as error,
        start_devhost(APPS / "durable_crash", env=env),
    ):
        pass
    assert WORKER_COUNT_SETTING in str(error.value)


def test_worker_count_reads_the_setting():
    assert worker_count({}) == 0
    assert worker_count({WORKER_COUNT_SETTING: ""}) == 0
    assert worker_count({WORKER_COUNT_SETTING: "3"}) == 3
    with pytest.raises(ValueError, match="between 1 and 10"):
        worker_count({WORKER_COUNT_SETTING: "0"})
