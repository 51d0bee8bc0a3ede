"""A crash in the middle of a run bills every item once, with the tokens the model served for it.

Issue 11: devhost was killed (SIGKILL) a few seconds into a 1,000-item run with two worker
processes and restarted on the same state; two items then completed from the response cache with
0 tokens and their cost "saved", although the model had answered them before the kill. Here the
model simulator runs as a process of its own, so that what it served survives the crash, and the
run's reported usage is held against it, item by item.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devhost.testing import simulator_process, start_devhost
from tests.e2e.conftest import OPERATOR, PROJECT_ROOT, all_items, app_env, start_run, wait_run

pytestmark = pytest.mark.slow

ITEMS = 1_000


@pytest.fixture
def simulator() -> Iterator[str]:
    """``python -m devhost.simulator`` on a free port: its OpenAI base URL."""
    with simulator_process("--latency-ms", "200") as url:
        yield url


def _completed(api: httpx.Client, run_id: str) -> int:
    return int(api.get(f"/api/runs/{run_id}", params={"limit": 1}).json()["counts"]["completed"])


def test_a_killed_and_restarted_run_reports_the_tokens_the_model_served(
    tmp_path: Path, simulator: str
) -> None:
    env = app_env(tmp_path, MODEL_ENDPOINT=simulator, FUNCTIONS_WORKER_PROCESS_COUNT="2")
    queries = [f"crash text number {n} about the harbour" for n in range(ITEMS)]
    with start_devhost(PROJECT_ROOT, env=env) as host:
        headers = {**host.function_headers, **OPERATOR}
        with httpx.Client(base_url=host.base_url, headers=headers, timeout=30) as api:
            run_id = start_run(api, "summarizer", queries)["runId"]
            started = time.monotonic()
            # A few seconds in with items done, or once a fifth is done on a fast machine.
            while (done := _completed(api, run_id)) < ITEMS // 5:
                elapsed = time.monotonic() - started
                if elapsed >= 3 and done > 0:
                    break
                assert elapsed < 60, "no item completed within a minute"
                time.sleep(0.05)
            host.kill()
        host.restart()
        with httpx.Client(base_url=host.base_url, headers=headers, timeout=30) as api:
            done_before_restart = _completed(api, run_id)
            view = wait_run(api, run_id, timeout=300)
            items = all_items(api, run_id, limit=500)
        served = httpx.get(simulator.removesuffix("/v1") + "/sim/served", timeout=10).json()

    assert 0 < done_before_restart < ITEMS, "the kill should fall in the middle of the run"
    assert view["status"] == "completed", view
    assert view["counts"] == {"pending": 0, "completed": ITEMS, "failed": 0}
    # Every query is distinct: no answer can honestly come from the cache.
    assert view["cache"] == {"hits": 0, "savedCost": 0.0}
    assert not [item["index"] for item in items if item["cached"]]

    by_query: dict[str, dict[str, Any]] = {entry["query"]: entry for entry in served["served"]}
    reported = {"prompt": 0, "completion": 0}
    for item in items:
        entry = by_query[queries[item["index"]]]  # the model answered every item
        # The simulator answers a query the same way each time; an answer lost in the crash was
        # asked again. The item is billed for one answer, with that answer's tokens.
        answers = entry["answers"]
        assert item["usage"]["promptTokens"] * answers == entry["prompt_tokens"], (item, entry)
        assert item["usage"]["completionTokens"] * answers == entry["completion_tokens"]
        assert item["cost"] > 0
        reported["prompt"] += item["usage"]["promptTokens"]
        reported["completion"] += item["usage"]["completionTokens"]
    assert view["usage"]["promptTokens"] == reported["prompt"]
    assert view["usage"]["completionTokens"] == reported["completion"]
    # What the provider billed beyond that: answers given to calls the crash cut off.
    asked_again = sum(entry["answers"] - 1 for entry in served["served"])
    assert asked_again <= 2 * 64, f"{asked_again} answers re-asked: more than were in flight"
