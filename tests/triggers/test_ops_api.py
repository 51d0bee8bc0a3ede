"""The operations route through the app's real route function, with the real services over
SQLite and the model simulator: an admin reads limiter load and today's budgets (after a real
call through the gateway), anyone else gets a 403 problem, and both calls are audited."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from pydantic import SecretStr

from agentops.auth import Principal
from agentops.bootstrap import Services
from agentops.runs.requests import AskRequest
from agentops.settings import Budget, RateLimit
from tests.e2e.conftest import app_functions, principal_headers
from tests.triggers.http_requests import http_request
from tests.triggers.installed_services import installed_services
from triggers.http import HttpResponse

ADMIN = principal_headers("acme", "operator-1", "runs.write", "admin")
USER = principal_headers("acme", "user-1", "runs.write")
ROUTE = {f.get_function_name(): f for f in app_functions()}["ops_limits"].get_user_function()


@pytest.fixture
async def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Services]:
    async with installed_services(
        tmp_path,
        monkeypatch,
        model_api_key=SecretStr("sk-ops-limits-test"),
        functions_worker_process_count=2,
        rate_limits={"gpt-4o-mini": RateLimit(rpm=120, tpm=20_000, window_s=10)},
        tenant_budgets={"acme": Budget(tokens=100_000)},
        agent_budgets={"summarizer": Budget(cost=5.0)},
    ) as built:
        yield built


async def _get(headers: dict[str, str]) -> HttpResponse:
    req = http_request(
        "GET", "https://agentops.example.net/api/ops/limits", headers=headers, body=b""
    )
    return await ROUTE(req=req, context=None)


async def _audited(services: Services) -> list[tuple[str, str, str]]:
    await services.audit.flush()
    entries = (await services.store.list_audit("acme")).items
    return [(e.principal, e.action, e.outcome) for e in entries]


async def test_an_admin_reads_limiter_load_and_budgets_used_today(services: Services) -> None:
    caller = Principal(id="user-1", name="user", tenant="acme", roles=frozenset({"runs.write"}))
    answer = await services.conversations.ask(caller, "summarizer", AskRequest(query="hello"))
    used = answer["usage"]["total_tokens"]
    response = await _get(ADMIN)
    assert response.status_code == 200 and response.media_type == "application/json"
    body = json.loads(response.body)

    from triggers.openapi import openapi_document

    document = json.loads(openapi_document("http://x"))
    schema = document["paths"]["/api/ops/limits"]["get"]["responses"]["200"]["content"]
    jsonschema.validate(
        body, {**schema["application/json"]["schema"], "components": document["components"]}
    )
    assert body["limiterScope"] == "process" and body["workerProcesses"] == 2
    (deployment,) = body["deployments"]
    # This process's half of the quota; one request taken, a window of ten seconds held.
    assert (deployment["deployment"], deployment["rpm"], deployment["tpm"]) == (
        "gpt-4o-mini",
        60,
        10_000,
    )
    assert deployment["requests"]["capacity"] == 10.0
    assert 9.0 <= deployment["requests"]["available"] < 10.0
    assert deployment["tokens"]["available"] < deployment["tokens"]["capacity"] == 10_000 / 6
    assert (deployment["waiters"], deployment["breaker"]) == (0, "closed")
    today = datetime.now(UTC).date()
    assert body["day"] == today.isoformat()
    assert body["resetsAt"].startswith((today + timedelta(days=1)).isoformat())
    assert [(b["scope"], b["name"], b["tokensUsed"], b["tokenLimit"]) for b in body["budgets"]] == [
        ("tenant", "acme", used, 100_000),
        ("agent", "summarizer", used, None),
    ]
    assert body["budgets"][1]["costLimit"] == 5.0
    assert await _audited(services) == [("operator-1", "ops.limits", "allowed")]


async def test_anyone_else_is_refused_with_a_problem(services: Services) -> None:
    response = await _get(USER)
    assert response.status_code == 403
    assert response.media_type == "application/problem+json"
    assert "budgets" not in json.loads(response.body)
    assert await _audited(services) == [("user-1", "ops.limits", "refused")]
