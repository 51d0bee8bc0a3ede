"""Killing devhost in the middle of a batch-mode run neither uploads nor creates a batch twice.

The model simulator runs as a process of its own (its files and batches outlive the kill) with
a processing delay, so the batch is still in progress when devhost is killed (SIGKILL) and
restarted on the same state; the run then finds its batch again by label and completes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devhost.testing import simulator_process, start_devhost
from tests.e2e.conftest import OPERATOR, PROJECT_ROOT, app_env, start_run, wait_run

pytestmark = pytest.mark.slow

ITEMS = 200


@pytest.fixture
def simulator() -> Iterator[str]:
    """``python -m devhost.simulator`` whose batches take a few seconds: its OpenAI base URL."""
    with simulator_process("--latency-ms", "5", env={"SIM_BATCH_DELAY_S": "4"}) as url:
        yield url


def test_a_killed_batch_run_finds_its_upload_and_batch_again(
    tmp_path: Path, simulator: str
) -> None:
    env = app_env(tmp_path, MODEL_ENDPOINT=simulator)
    queries = [f"crash note {n} about the ferry timetable" for n in range(ITEMS)]
    stats_url = simulator.removesuffix("/v1") + "/sim/stats"
    with start_devhost(PROJECT_ROOT, env=env) as host:
        headers = {**host.function_headers, **OPERATOR}
        with httpx.Client(base_url=host.base_url, headers=headers, timeout=30) as api:
            run_id = start_run(api, "summarizer", queries, mode="batch")["runId"]
            deadline = time.monotonic() + 60
            while not httpx.get(stats_url, timeout=10).json()["batches"]["creates"]:
                assert time.monotonic() < deadline, "no batch was created within a minute"
                time.sleep(0.05)
            host.kill()
        host.restart()
        with httpx.Client(base_url=host.base_url, headers=headers, timeout=30) as api:
            view = wait_run(api, run_id, timeout=120)
    stats = httpx.get(stats_url, timeout=10).json()["batches"]
    assert view["status"] == "completed", view
    assert view["counts"] == {"pending": 0, "completed": ITEMS, "failed": 0}
    assert (stats["uploads"], stats["creates"]) == (1, 1), stats
