"""devhost's local metrics view: the app's metrics from every process, summed, equal the store's
counts of a run whose items ran in two activity worker processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devhost.testing import Devhost, start_devhost
from tests.e2e.conftest import OPERATOR, PROJECT_ROOT, all_items, app_env, start_run, wait_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devhost]:
    env = app_env(
        tmp_path_factory.mktemp("metrics"),
        FUNCTIONS_WORKER_PROCESS_COUNT="2",
        OTEL_METRIC_EXPORT_INTERVAL="200",
    )
    with start_devhost(
        PROJECT_ROOT, env=env, simulator=True, simulator_setting="MODEL_ENDPOINT"
    ) as running:
        yield running


def _total(view: dict[str, Any], name: str, **attributes: Any) -> float:
    metric = view["metrics"].get(name, {"points": []})
    return sum(
        point.get("value", point.get("count", 0))
        for point in metric["points"]
        if all(point["attributes"].get(k.replace("__", ".")) == v for k, v in attributes.items())
    )


def test_the_view_sums_every_process_and_matches_the_run(host: Devhost) -> None:
    assert "/admin/metrics" in host.output
    with httpx.Client(
        base_url=host.base_url, headers={**host.function_headers, **OPERATOR}, timeout=30
    ) as api:
        queries = [f"question {n}" for n in range(12)] + ["bad [simulate-content-filter]"] * 3
        run = start_run(api, "summarizer", queries, batch_size=2)
        done = wait_run(api, run["id"])
        items = all_items(api, run["id"])
    completed = sum(1 for item in items if item["status"] == "completed")
    failed = sum(1 for item in items if item["status"] == "failed")
    assert (completed, failed) == (12, 3) and done["status"] == "completed"

    assert httpx.get(host.url("/admin/metrics"), headers=host.function_headers).status_code == 401
    deadline = time.monotonic() + 20
    while True:
        view = httpx.get(host.url("/admin/metrics"), headers=host.master_headers, timeout=10).json()
        finished = (
            _total(view, "agentops.items.finished", outcome="completed"),
            _total(view, "agentops.items.finished", outcome="failed"),
            _total(view, "agentops.runs.finished", status="completed"),
        )
        if finished == (completed, failed, 1) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert finished == (completed, failed, 1), view
    assert _total(view, "agent.errors.total", error__type="permanent") == failed
    assert _total(view, "agent.requests.total", http__route="/api/agents/{agent}/runs") == 1
    duration = view["metrics"]["agent.request.duration"]
    assert duration["kind"] == "histogram" and duration["unit"] == "ms"
    assert all(sum(p["bucketCounts"]) == p["count"] for p in duration["points"])
    assert view["exportIntervalMs"] == 200 and view["exports"] > 0
