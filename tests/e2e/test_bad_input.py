"""Bad requests get problem+json naming the field, and start and store nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from agentops.store.sqlite import SqliteStore
from devhost.testing import Devhost

pytestmark = pytest.mark.slow


def _stored_runs(host: Devhost) -> int:
    async def count() -> int:
        async with SqliteStore(Path(host.env["SQLITE_PATH"])) as store:
            page = await store.list_runs("local", limit=1000)
            return len(page.items)

    return asyncio.run(count())


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"queries": []}, 400, "queries"),
        ({}, 400, "queries"),
        ({"queries": "not a list"}, 400, "queries"),
        ({"queries": [1, 2]}, 400, "queries[0]"),
        ({"queries": ["ok"], "options": {"batch_size": 0}}, 400, "options.batch_size"),
        ({"queries": ["ok"], "options": {"colour": "red"}}, 400, "options.colour"),
        ({"queries": ["ok"], "extra": True}, 400, "extra"),
        ({"queries": ["q"] * 10_001}, 413, "queries"),
        ({"queries": ["ok", "x" * (32 * 1024 + 1)]}, 413, "queries[1]"),
    ],
)
def test_bad_run_requests_are_refused_and_store_nothing(
    api: httpx.Client, app_host: Devhost, body: dict, status: int, field: str
) -> None:
    before = _stored_runs(app_host)
    response = api.post("/api/agents/calculator/runs", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    assert field in {error["field"] for error in problem["errors"]}, problem
    assert _stored_runs(app_host) == before


def test_a_body_that_is_not_json_is_400(api: httpx.Client, app_host: Devhost) -> None:
    before = _stored_runs(app_host)
    response = api.post(
        "/api/agents/calculator/runs",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid JSON"
    assert _stored_runs(app_host) == before


def test_an_unknown_agent_is_404(api: httpx.Client) -> None:
    response = api.post("/api/agents/nobody/runs", json={"queries": ["hi"]})
    assert response.status_code == 404
    assert "nobody" in response.json()["detail"]


def test_no_key_is_401(app_host: Devhost) -> None:
    response = httpx.post(
        app_host.url("/api/agents/calculator/runs"), json={"queries": ["hi"]}, timeout=10
    )
    assert response.status_code == 401


def test_ask_validates_its_body(api: httpx.Client) -> None:
    response = api.post("/api/agents/summarizer/run", json={"query": ""})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "query"
    too_big = api.post("/api/agents/summarizer/run", json={"query": "x" * 40_000})
    assert too_big.status_code == 413
