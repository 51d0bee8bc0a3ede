"""A run's item statistics in GET /api/runs/{id}, through the app's real route: item model
times measured by the batch service (its clock stepped by hand), retries from the items'
attempts, spend by model; the real services over SQLite and the model simulator. Another
tenant's run reads as missing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.durable_functions.models.DurableOrchestrationStatus import (
    DurableOrchestrationStatus,
)
from pydantic import SecretStr

from agentops.auth import Principal
from agentops.bootstrap import Services
from agentops.runs.batch_service import BatchService
from agentops.runs.contracts import BatchWork
from agentops.runs.requests import RunRequest
from agentops.runs.run_service import TOTALS_REUSE_S
from agentops.store.records import ItemError
from tests.e2e.conftest import app_functions, principal_headers
from tests.triggers.http_requests import http_request
from tests.triggers.installed_services import installed_services
from triggers.http import HttpResponse

MODEL_KEY = "sk-stats-3f9a"
ALICE = Principal("alice", "alice", "acme", frozenset({"runs.write"}))
ROUTE = next(f for f in app_functions() if f.get_function_name() == "get_run")


class _Status:
    """The durable client's one call this route makes: the orchestration is running."""

    async def get_status(self, instance_id: str) -> DurableOrchestrationStatus:
        times = {"createdTime": "2026-12-06T10:00:00Z", "lastUpdatedTime": "2026-12-06T10:00:01Z"}
        return DurableOrchestrationStatus.from_json(
            {**times, "name": "agent_batch", "instanceId": instance_id, "runtimeStatus": "Running"}
        )


@pytest.fixture
async def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Services]:
    async with installed_services(
        tmp_path, monkeypatch, model_api_key=SecretStr(MODEL_KEY)
    ) as built:
        yield built


def _stepped(readings: list[float]) -> Iterator[float]:
    yield from readings


async def _read(run_id: str, tenant: str = "acme") -> HttpResponse:
    req = http_request(
        "GET",
        f"https://agentops.example.net/api/runs/{run_id}",
        headers=principal_headers(tenant, "alice", "runs.write"),
        params={"limit": "1"},
        route_params={"run_id": run_id},
        body=b"",
    )
    route = ROUTE.get_user_function()
    # Past the Durable SDK's wrapper, which would build a client from the host's JSON binding.
    route = getattr(route, "__wrapped__", route)
    return await route(req=req, context=None, client=_Status())


async def _stats(run_id: str) -> dict[str, Any]:
    answer = await _read(run_id)
    assert answer.status_code == 200
    return json.loads(answer.body)["stats"]


async def test_latency_percentiles_retries_and_spend_by_model(services: Services) -> None:
    now = [100.0]
    services.runs._clock = lambda: now[0]  # type: ignore[attr-defined]
    # Each item's model call: started at the first reading, ended at the second.
    readings = _stepped([0.0, 0.120, 1.0, 1.250, 2.0, 2.400, 3.0, 3.050])
    batches = BatchService(
        services.store,
        services.agents,
        services.batches._model,  # type: ignore[attr-defined]
        max_attempts=services.settings.max_attempts,
        sealer=services.sealer,
        clock=lambda: next(readings),
    )
    run = await services.runs.create(
        ALICE, "summarizer", RunRequest(queries=["one", "two", "three", "four"])
    )
    await services.store.record_attempt(run.run_id, 1, ItemError("transient", "429"))
    for index in range(3):
        work = BatchWork(run_id=run.run_id, tenant="acme", agent="summarizer", indexes=[index])
        assert (await batches.run(work)).completed == 1

    body = await _stats(run.run_id)
    assert (body["timedItems"], body["latencyP50Ms"], body["latencyP95Ms"]) == (3, 250, 400)
    assert body["retries"] == 1
    totals = await services.store.item_totals(run.run_id)
    (spend,) = body["byModel"]
    assert spend["model"] == services.agents.get("summarizer").deployment
    assert spend["items"] == 3
    assert spend["usage"]["totalTokens"] == totals.usage.total_tokens > 0
    assert spend["cost"] == round(totals.cost, 6) and totals.cost > 0  # as the run view rounds

    # Under way: reused for a moment, like the run's totals; then read afresh.
    work = BatchWork(run_id=run.run_id, tenant="acme", agent="summarizer", indexes=[3])
    assert (await batches.run(work)).completed == 1
    assert await _stats(run.run_id) == body
    now[0] += TOTALS_REUSE_S
    fresh = await _stats(run.run_id)
    assert (fresh["timedItems"], fresh["latencyP50Ms"], fresh["latencyP95Ms"]) == (4, 120, 400)

    # Tenant-scoped as the run itself: another tenant's caller learns nothing.
    refused = await _read(run.run_id, tenant="globex")
    assert refused.status_code == 404
    assert run.run_id not in refused.body.decode()
