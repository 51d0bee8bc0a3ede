"""Batch runs through the real app, devhost and the model simulator, over HTTP on loopback."""

from __future__ import annotations

import httpx
import pytest

from devhost.testing import Devhost
from tests.e2e.conftest import all_items, start_run, wait_run

pytestmark = pytest.mark.slow


def test_agents_are_listed(api: httpx.Client) -> None:
    agents = api.get("/api/agents").json()["agents"]
    names = {agent["name"] for agent in agents}
    assert {"calculator", "summarizer", "triage"} <= names
    assert all(agent["description"] for agent in agents)
    assert "instructions" not in agents[0]


def test_a_batch_completes_with_answers_usage_and_pages(api: httpx.Client) -> None:
    queries = [f"add {n} and {n + 1}" for n in range(30)]
    started = start_run(api, "calculator", queries, batch_size=4, max_in_flight=3)
    assert started["runId"] == started["id"]
    assert started["runStatusUri"].endswith(f"/api/runs/{started['runId']}")
    assert "statusQueryGetUri" in started

    view = wait_run(api, started["runId"])
    assert view["status"] == "completed"
    assert view["counts"] == {"pending": 0, "completed": 30, "failed": 0}
    assert view["usage"]["totalTokens"] > 0

    items = all_items(api, started["runId"])
    assert [item["index"] for item in items] == list(range(30))
    assert all(item["status"] == "completed" for item in items)
    # The calculator really ran its add tool: the simulator echoes the tool's result.
    assert "13" in items[6]["answer"]


def test_the_durable_status_endpoint_reports_progress(api: httpx.Client, app_host: Devhost) -> None:
    started = start_run(api, "summarizer", ["A short text about Paris."] * 3)
    wait_run(api, started["runId"])
    status = httpx.get(started["statusQueryGetUri"], timeout=10).json()
    assert status["runtimeStatus"] == "Completed"
    assert status["customStatus"]["completed"] == 3


def test_large_runs_split_into_sub_orchestrations(tmp_path) -> None:
    from devhost.testing import start_devhost
    from tests.e2e.conftest import OPERATOR, PROJECT_ROOT, app_env

    env = app_env(tmp_path, CHUNK_SIZE="10", BATCH_SIZE="3", MAX_IN_FLIGHT="8")
    with (
        start_devhost(
            PROJECT_ROOT, env=env, simulator=True, simulator_setting="MODEL_ENDPOINT"
        ) as host,
        httpx.Client(
            base_url=host.base_url, headers={**host.function_headers, **OPERATOR}, timeout=30
        ) as api,
    ):
        started = start_run(api, "summarizer", [f"text number {n}" for n in range(35)])
        view = wait_run(api, started["runId"])
        assert view["counts"] == {"pending": 0, "completed": 35, "failed": 0}
        child = httpx.get(
            f"{host.base_url}/runtime/webhooks/durabletask/instances/{started['runId']}:chunk:3",
            headers=host.master_headers,
            timeout=10,
        )
        assert child.status_code == 200
        assert child.json()["runtimeStatus"] == "Completed"


def test_unknown_run_is_404(api: httpx.Client) -> None:
    response = api.get("/api/runs/doesnotexist")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_bad_continuation_is_400(api: httpx.Client) -> None:
    started = start_run(api, "summarizer", ["one"])
    response = api.get(f"/api/runs/{started['runId']}", params={"continuation": "x"})
    assert response.status_code == 400


def test_cancel_stops_a_run(api: httpx.Client, app_host: Devhost) -> None:
    httpx.put(
        f"{app_host.simulator_url}/sim/config",
        json={"latency": {"distribution": "fixed", "ms": 300}},
        timeout=10,
    ).raise_for_status()
    try:
        started = start_run(api, "summarizer", [f"slow {n}" for n in range(40)], max_in_flight=1)
        response = api.post(f"/api/runs/{started['runId']}/cancel")
        assert response.status_code == 202
        view = wait_run(api, started["runId"])
        assert view["status"] == "canceled"
        assert view["counts"]["pending"] > 0
        again = api.post(f"/api/runs/{started['runId']}/cancel")
        assert again.status_code == 409
    finally:
        httpx.post(f"{app_host.simulator_url}/sim/reset", timeout=10)
        httpx.put(
            f"{app_host.simulator_url}/sim/config",
            json={"latency": {"distribution": "fixed", "ms": 5}},
            timeout=10,
        ).raise_for_status()


def test_a_conversation_continues_on_its_thread(api: httpx.Client) -> None:
    first = api.post("/api/agents/summarizer/run", json={"query": "Paris is in France."})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["answer"] and body["threadId"]
    second = api.post(
        "/api/agents/summarizer/run",
        json={"query": "And Rome?", "thread_id": body["threadId"]},
    )
    assert second.status_code == 200
    assert second.json()["messages"] == 4
    missing = api.post("/api/agents/summarizer/run", json={"query": "x", "thread_id": "nope"})
    assert missing.status_code == 404
