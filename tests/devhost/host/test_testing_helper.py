"""The subprocess helper everyone's end-to-end tests rely on: it never leaves devhost behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from devhost.testing import DevhostStartError, devhost_environment, start_devhost

from .conftest import APPS, HTTP_APP

ENV = {"EVERY_SECOND": "0 0 0 1 1 *", "TIMER_MARKER_DIR": "/tmp"}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in {"Z", "X"}


def test_process_is_stopped_when_the_block_raises() -> None:
    with pytest.raises(KeyError), start_devhost(HTTP_APP, env=ENV) as devhost:
        process = devhost.process
        raise KeyError("test failure inside the block")
    assert process is not None and process.poll() is not None


def test_start_failure_carries_the_output() -> None:
    with pytest.raises(DevhostStartError) as raised, start_devhost(APPS / "broken_import"):
        pass
    assert "KeyError: 'endpoint'" in str(raised.value)


def test_simulator_runs_in_the_same_process() -> None:
    with start_devhost(HTTP_APP, env=ENV, simulator=True, simulator_setting="MODEL_URL") as dh:
        assert dh.simulator_url is not None
        response = httpx.get(f"{dh.simulator_url}/v1/models")
        assert response.status_code == 200
        app_sees = httpx.get(dh.url("/api/settings/MODEL_URL")).json()["value"]
        assert app_sees == f"{dh.simulator_url}/v1"
        assert httpx.get(dh.url("/api/settings/DEVHOST_SIMULATOR_URL")).json()["value"] == (
            f"{dh.simulator_url}/v1"
        )


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_devhost_dies_with_the_process_that_started_it() -> None:
    script = textwrap.dedent(
        f"""
        import time
        from devhost.testing import start_devhost
        with start_devhost({str(HTTP_APP)!r}, env={ENV!r}) as devhost:
            print(devhost.process.pid, flush=True)
            time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        env=devhost_environment(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert _alive(child_pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5
        while _alive(child_pid):
            assert time.monotonic() < deadline, "devhost outlived its parent"
            time.sleep(0.05)
    finally:
        parent.kill()
        parent.wait()
