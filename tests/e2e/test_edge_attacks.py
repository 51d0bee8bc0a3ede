"""The HTTP edge under attack: forged or missing identities, forged hosts, hostile ids and bodies.

Each case was a hole once (a default tenant, a 500, a URL pointing elsewhere); each is refused
with problem+json, and a refused request stores nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentops.store.sqlite import SqliteStore
from devhost.testing import Devhost, start_devhost
from tests.e2e.conftest import OPERATOR, PROJECT_ROOT, app_env, principal_headers, wait_run

pytestmark = pytest.mark.slow

USER = principal_headers("contoso", "user-1", "runs.write")


def _stored_runs(host: Devhost, tenant: str = "local") -> int:
    async def count() -> int:
        async with SqliteStore(Path(host.env["SQLITE_PATH"])) as store:
            return len((await store.list_runs(tenant, limit=1000)).items)

    return asyncio.run(count())


def _encoded(document: object) -> dict[str, str]:
    return {"x-ms-client-principal": base64.b64encode(json.dumps(document).encode()).decode()}


def _assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    return body


# -- identity behind App Service Authentication -------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),  # the function key alone is not a signed-in caller
        (_encoded({"claims": []}), 403),
        (_encoded({"claims": [{"typ": "oid", "val": "u-9"}]}), 403),
        (_encoded({"claims": [{"typ": "tid", "val": " "}, {"typ": "oid", "val": "u-9"}]}), 403),
        (_encoded({"claims": "tid"}), 401),
        (_encoded(["tid", "contoso"]), 401),
        (_encoded(None), 401),
    ],
    ids=["none", "no claims", "no tenant", "blank tenant", "claims not a list", "array", "null"],
)
def test_without_a_proper_principal_nothing_is_served_or_stored(
    app_host: Devhost, headers: dict[str, str], status: int
) -> None:
    before = _stored_runs(app_host)
    with httpx.Client(
        base_url=app_host.base_url, headers=app_host.function_headers, timeout=30
    ) as bare:
        started = bare.post("/api/agents/summarizer/runs", json={"queries": ["x"]}, headers=headers)
        _assert_problem(started, status)
        assert "code=" not in started.text
        _assert_problem(bare.get("/api/agents", headers=headers), status)
        asked = bare.post("/api/agents/summarizer/run", json={"query": "x"}, headers=headers)
        _assert_problem(asked, status)
    assert _stored_runs(app_host) == before


# -- URLs handed out ------------------------------------------------------------------------------


def test_urls_come_from_the_configured_host_not_the_host_header(
    api: httpx.Client, app_host: Devhost
) -> None:
    forged = {"Host": "attacker.example", "X-Forwarded-Host": "attacker.example"}
    for headers in (forged, {**forged, **USER}):
        started = api.post("/api/agents/summarizer/runs", json={"queries": ["x"]}, headers=headers)
        assert started.status_code == 202, started.text
        assert "attacker" not in started.text
        assert started.headers["location"].startswith(app_host.base_url)
        body = started.json()
        assert body["runStatusUri"].startswith(app_host.base_url)
        assert body["statusQueryGetUri"].startswith(app_host.base_url)
    document = api.get("/api/openapi.json", headers=forged).json()
    assert document["servers"] == [{"url": app_host.base_url}]


def test_only_admins_get_management_urls_with_the_durable_key(
    api: httpx.Client, app_host: Devhost
) -> None:
    tenant_user = api.post("/api/agents/summarizer/runs", json={"queries": ["x"]}, headers=USER)
    assert "code=" not in tenant_user.text and "terminatePostUri" not in tenant_user.json()
    operator = api.post("/api/agents/summarizer/runs", json={"queries": ["x"]})
    body = operator.json()
    assert f"code={app_host.durable_key}" in body["terminatePostUri"]
    assert app_host.master_key not in operator.text
    assert body["terminatePostUri"].startswith(app_host.base_url)
    wait_run(api, body["runId"])


# -- ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("run_id", [".", "..", "%2e%2e", "a%2Fb", "a%00b", "x" * 200, "%E2%80%AE"])
def test_hostile_run_ids_are_refused_not_500(api: httpx.Client, run_id: str) -> None:
    for response in (api.get(f"/api/runs/{run_id}"), api.post(f"/api/runs/{run_id}/cancel")):
        # 405: a client normalises /runs/./cancel to /runs/cancel, which only answers GET;
        # and /runs/. to /runs/, the listing of the caller's runs.
        if run_id == "." and response.request.method == "GET":
            assert response.status_code == 200 and "runs" in response.json()
            continue
        assert response.status_code in {400, 404, 405}, (run_id, response.status_code)
        if response.status_code == 400:
            assert response.json()["errors"][0]["field"] == "run_id"


@pytest.mark.parametrize("continuation", ["1" * 29, "١٢", "-1", "1e3", " 1"])
def test_hostile_page_tokens_are_400(api: httpx.Client, continuation: str) -> None:
    run_id = api.post("/api/agents/summarizer/runs", json={"queries": ["x"]}).json()["runId"]
    response = api.get(f"/api/runs/{run_id}", params={"continuation": continuation})
    _assert_problem(response, 400)
    limit = api.get(f"/api/runs/{run_id}", params={"limit": "٣"})
    _assert_problem(limit, 400)


@pytest.mark.parametrize("thread_id", ["a/b", "a\x00b", "..", "", "x" * 129])
def test_hostile_thread_ids_are_400(api: httpx.Client, thread_id: str) -> None:
    response = api.post("/api/agents/summarizer/run", json={"query": "hi", "thread_id": thread_id})
    body = _assert_problem(response, 400)
    assert body["errors"][0]["field"] == "thread_id"


# -- bodies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"[" * 100_000 + b"]" * 100_000, None),
        (b'{"queries": [' + b"9" * 4_301 + b"]}", None),
        (b'{"queries": ["ok"], "queries": ["twice"]}', None),
        (b'{"queries": ["\\ud800"]}', "queries[0]"),
        (b'{"queries": ["ok", " "]}', "queries[1]"),
        (b'{"queries": ["\\t\\n"]}', "queries[0]"),
        (b'{"queries": ["ok"], "options": {"batch_size": true}}', "options.batch_size"),
        (b'{"queries": ["ok"], "options": {"batch_size": "5"}}', "options.batch_size"),
        (b'{"queries": ["ok"], "options": {"batch_size": 5.5}}', "options.batch_size"),
        (b"\xff\xfe", None),
        (b"null", ""),
    ],
    ids=[
        "deep nesting",
        "huge integer",
        "duplicate keys",
        "lone surrogate",
        "blank query",
        "whitespace query",
        "bool for int",
        "string for int",
        "float for int",
        "not utf-8",
        "null",
    ],
)
def test_hostile_run_bodies_are_400_and_store_nothing(
    api: httpx.Client, app_host: Devhost, raw: bytes, field: str | None
) -> None:
    before = _stored_runs(app_host)
    response = api.post(
        "/api/agents/calculator/runs", content=raw, headers={"content-type": "application/json"}
    )
    body = _assert_problem(response, 400)
    if field is not None:
        assert field in {error["field"] for error in body["errors"]}, body
    assert _stored_runs(app_host) == before


@pytest.mark.parametrize("query", ["   ", "\ud800", ""])
def test_hostile_asks_are_400(api: httpx.Client, query: str) -> None:
    raw = json.dumps({"query": query}).encode()
    response = api.post(
        "/api/agents/summarizer/run", content=raw, headers={"content-type": "application/json"}
    )
    assert _assert_problem(response, 400)["errors"][0]["field"] == "query"


# -- limits per caller and per body ---------------------------------------------------------------


@pytest.fixture(scope="module")
def limited_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devhost]:
    env = app_env(
        tmp_path_factory.mktemp("limited"),
        USER_REQUESTS_PER_MINUTE="4",
        TENANT_REQUESTS_PER_MINUTE="6",
        MAX_REQUEST_BYTES="4096",
    )
    with start_devhost(PROJECT_ROOT, env=env) as host:
        yield host


def test_a_caller_over_its_request_rate_gets_429_with_retry_after(limited_host: Devhost) -> None:
    first = principal_headers("fabrikam", "user-a")
    second = principal_headers("fabrikam", "user-b")
    with httpx.Client(
        base_url=limited_host.base_url, headers=limited_host.function_headers, timeout=30
    ) as c:
        statuses = [c.get("/api/agents", headers=first).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 200, 429]
        refused = c.get("/api/agents", headers=first)
        body = _assert_problem(refused, 429)
        assert body["scope"] == "user"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Another user of the tenant has its own share, until the tenant's is spent.
        assert c.get("/api/agents", headers=second).status_code == 200
        assert c.get("/api/agents", headers=second).status_code == 200
        tenant = _assert_problem(c.get("/api/agents", headers=second), 429)
        assert tenant["scope"] == "tenant"
        # Other tenants are not affected.
        assert c.get("/api/agents", headers=OPERATOR).status_code == 200


def test_a_body_over_the_limit_is_413(limited_host: Devhost) -> None:
    caller = principal_headers("northwind", "user-a")
    with httpx.Client(
        base_url=limited_host.base_url,
        headers={**limited_host.function_headers, **caller},
        timeout=30,
    ) as c:
        big = json.dumps({"queries": ["x" * 5000]}).encode()
        body = _assert_problem(c.post("/api/agents/calculator/runs", content=big), 413)
        assert body["title"] == "Body too large"
        assert _stored_runs(limited_host, "northwind") == 0
