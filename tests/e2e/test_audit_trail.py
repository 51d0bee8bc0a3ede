"""Every call of the API, refusals included, leaves exactly one audit entry with who, which
tenant, what, the outcome, and where from; no query text reaches the trail, and accesses made
before anyone is identified go to the `unauthenticated` chain only."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentops.cli.main import main as cli
from agentops.reports import access_event_from
from agentops.store.records import AuditEntry
from devhost.testing import start_devhost
from tests.e2e.conftest import PROJECT_ROOT, app_env, principal_headers, wait_run
from triggers.access import unverified_id

pytestmark = pytest.mark.slow

CONTOSO = principal_headers("contoso", "user-1", "runs.write")
FABRIKAM = principal_headers("fabrikam", "user-2", "runs.write")
SECRET_QUERY = "the secret query text 7d1f"
USER_LIMIT = 40


class Host:
    def __init__(self, client: httpx.Client, db: Path) -> None:
        self.client = client
        self.db = db

    def call(
        self, method: str, path: str, headers: dict[str, str], **kwargs: Any
    ) -> tuple[httpx.Response, str]:
        request_id = uuid.uuid4().hex
        context = {
            "x-ms-request-id": request_id,
            "x-forwarded-for": "203.0.113.7:50123, 10.0.0.4",
            "x-session-id": "session-42",
        }
        response = self.client.request(method, path, headers={**headers, **context}, **kwargs)
        return response, request_id

    def entries(self, request_id: str, timeout: float = 10) -> list[dict[str, Any]]:
        """The request's entries, once the background writer has appended them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [doc for doc in self.all() if doc["details"]["request_id"] == request_id]
            if found or time.monotonic() > deadline:
                time.sleep(0.2)  # a second entry for the same request would show by now
                return [d for d in self.all() if d["details"]["request_id"] == request_id]
            time.sleep(0.05)

    def all(self) -> list[dict[str, Any]]:
        with sqlite3.connect(self.db) as connection:
            rows = connection.execute("SELECT doc FROM audit ORDER BY tenant_id, seq").fetchall()
        return [json.loads(row[0]) for row in rows]

    def one(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
        response, request_id = self.call(method, path, headers, **kwargs)
        entries = self.entries(request_id)
        assert len(entries) == 1, entries
        return response, entries[0]


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    tmp = tmp_path_factory.mktemp("audit")
    env = app_env(tmp, MAX_QUERIES="3", USER_REQUESTS_PER_MINUTE=str(USER_LIMIT))
    with (
        start_devhost(
            PROJECT_ROOT, env=env, simulator=True, simulator_setting="MODEL_ENDPOINT"
        ) as devhost,
        httpx.Client(
            base_url=devhost.base_url, headers=devhost.function_headers, timeout=30
        ) as client,
    ):
        yield Host(client, tmp / "agentops.db")


def check(
    entry: dict[str, Any],
    *,
    tenant: str,
    principal: str,
    action: str,
    status: int,
    resource: str | None = None,
) -> None:
    assert entry["tenant_id"] == tenant and entry["principal"] == principal
    assert entry["action"] == action
    assert entry["details"]["status"] == status
    assert entry["outcome"] == ("allowed" if status < 400 else "refused")
    assert entry["details"]["client_ip"] == "203.0.113.7"
    assert entry["details"]["session_id"] == "session-42"
    assert entry["details"]["invocation_id"]
    if resource is not None:
        assert entry["resource"] == resource


def test_each_route_leaves_one_entry(host: Host) -> None:
    body = {"queries": [SECRET_QUERY, SECRET_QUERY + " again"]}
    started, entry = host.one("POST", "/api/agents/summarizer/runs", CONTOSO, json=body)
    assert started.status_code == 202
    run_id = started.json()["runId"]
    check(
        entry,
        tenant="contoso",
        principal="user-1",
        action="run.submit",
        status=202,
        resource=f"runs/{run_id}",
    )
    assert entry["details"]["queries"] == 2

    wait_run(host.client, run_id, headers=CONTOSO)
    read, entry = host.one("GET", f"/api/runs/{run_id}", CONTOSO, params={"limit": 1})
    check(
        entry,
        tenant="contoso",
        principal="user-1",
        action="run.read",
        status=200,
        resource=f"runs/{run_id}",
    )
    assert entry["details"]["records"] == 1
    assert entry["details"]["agent"] == "summarizer"
    continuation = read.json()["continuation"]
    _, entry = host.one(
        "GET", f"/api/runs/{run_id}", CONTOSO, params={"limit": 1, "continuation": continuation}
    )
    check(entry, tenant="contoso", principal="user-1", action="run.page", status=200)

    _, entry = host.one("POST", f"/api/runs/{run_id}/cancel", CONTOSO)
    check(
        entry,
        tenant="contoso",
        principal="user-1",
        action="run.cancel",
        status=409,
        resource=f"runs/{run_id}",
    )  # the run had finished
    assert entry["details"]["kind"] == "run-finished"

    _, entry = host.one("GET", "/api/agents", CONTOSO)
    check(
        entry,
        tenant="contoso",
        principal="user-1",
        action="agents.list",
        status=200,
        resource="agents",
    )

    asked, entry = host.one(
        "POST", "/api/agents/summarizer/run", CONTOSO, json={"query": SECRET_QUERY}
    )
    thread_id = asked.json()["threadId"]
    check(
        entry,
        tenant="contoso",
        principal="user-1",
        action="thread.write",
        status=200,
        resource=f"threads/{thread_id}",
    )
    assert entry["details"]["continued"] is False
    _, entry = host.one(
        "POST",
        "/api/agents/summarizer/run",
        CONTOSO,
        json={"query": SECRET_QUERY, "thread_id": thread_id},
    )
    assert entry["resource"] == f"threads/{thread_id}" and entry["details"]["continued"] is True


def test_a_cancel_that_succeeds_is_recorded(host: Host) -> None:
    started = host.client.post(
        "/api/agents/summarizer/runs", json={"queries": ["x"] * 3}, headers=CONTOSO
    )
    run_id = started.json()["runId"]
    response, entry = host.one("POST", f"/api/runs/{run_id}/cancel", CONTOSO)
    assert response.status_code in (202, 409)
    check(
        entry,
        tenant="contoso",
        principal="user-1",
        action="run.cancel",
        status=response.status_code,
        resource=f"runs/{run_id}",
    )


def bad_principal(**document: Any) -> dict[str, str]:
    encoded = base64.b64encode(json.dumps(document).encode()).decode()
    return {"x-ms-client-principal": encoded}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"x-ms-client-principal": "%%%"}, 401),
        # A tenant is claimed, but no user: the claim must not choose the chain.
        (bad_principal(claims=[{"typ": "tid", "val": "contoso"}]), 401),
        (bad_principal(claims=[{"typ": "oid", "val": "user-9"}]), 403),
        # A real-looking principal whose tenant takes the pseudo-tenant's name is refused.
        (principal_headers("unauthenticated", "user-9"), 403),
    ],
    ids=["unreadable", "no user", "no tenant", "reserved tenant"],
)
def test_refusals_before_identity_go_to_the_unauthenticated_chain(
    host: Host, headers: dict[str, str], status: int
) -> None:
    response, entry = host.one("GET", "/api/agents", headers)
    assert response.status_code == status
    check(entry, tenant="unauthenticated", principal="", action="agents.list", status=status)


def test_refusals_of_a_known_caller_go_to_its_chain(host: Host) -> None:
    run_id = host.client.post(
        "/api/agents/summarizer/runs", json={"queries": ["x"]}, headers=CONTOSO
    ).json()["runId"]
    response, entry = host.one("GET", f"/api/runs/{run_id}", FABRIKAM)
    assert response.status_code == 404
    check(
        entry,
        tenant="fabrikam",
        principal="user-2",
        action="run.read",
        status=404,
        resource=f"runs/{unverified_id(run_id)}",  # another tenant's id: not recorded as is
    )
    assert entry["details"]["kind"] == "unknown-run"
    # The attempt on another tenant's run is named as such in the caller's chain, and the
    # compliance report reads it as a cross-tenant attempt.
    assert entry["details"]["resource_tenant"] == "contoso"
    event = access_event_from(AuditEntry.from_doc(entry))
    assert event.cross_tenant and event.refusal == "unknown-run" and event.status_code == 404

    _, entry = host.one("GET", f"/api/runs/{'0' * 32}", FABRIKAM)
    assert entry["details"]["kind"] == "unknown-run" and "resource_tenant" not in entry["details"]

    thread_id = host.client.post(
        "/api/agents/summarizer/run", json={"query": "hello"}, headers=CONTOSO
    ).json()["threadId"]
    response, entry = host.one(
        "POST",
        "/api/agents/summarizer/run",
        FABRIKAM,
        json={"query": "hello", "thread_id": thread_id},
    )
    assert response.status_code == 404
    assert entry["details"]["resource_tenant"] == "contoso"
    assert entry["details"]["agent"] == "summarizer"

    response, entry = host.one(
        "POST", "/api/agents/summarizer/runs", FABRIKAM, json={"queries": ["a", "b", "c", "d"]}
    )
    assert response.status_code == 413
    check(
        entry,
        tenant="fabrikam",
        principal="user-2",
        action="run.submit",
        status=413,
        resource="agents/summarizer",
    )

    response, request_id = host.call(
        "POST", "/api/agents/summarizer/runs", FABRIKAM, content=b'{"queries": ["x"'
    )
    assert response.status_code == 400
    (entry,) = host.entries(request_id)
    check(entry, tenant="fabrikam", principal="user-2", action="run.submit", status=400)

    # An id pasted by mistake (a key, say) is not copied into the trail.
    for pasted, status in (("sk-live-0123456789abcdef", 404), ("sk-live-0123.secret", 400)):
        response, entry = host.one("GET", f"/api/runs/{pasted}", FABRIKAM)
        assert response.status_code == status
        assert "sk-live" not in json.dumps(entry) and entry["resource"].startswith("runs/~")


def test_a_rate_refusal_is_recorded_in_the_callers_chain(host: Host) -> None:
    caller = principal_headers("contoso", "busy-user")
    statuses = [
        host.client.get("/api/agents", headers=caller).status_code for _ in range(USER_LIMIT)
    ]
    assert set(statuses) == {200}
    response, entry = host.one("GET", "/api/agents", caller)
    assert response.status_code == 429
    check(entry, tenant="contoso", principal="busy-user", action="agents.list", status=429)


def test_no_query_text_reaches_the_trail_and_every_chain_verifies(
    host: Host, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, request_id = host.call(
        "POST", "/api/agents/summarizer/runs", CONTOSO, json={"queries": [SECRET_QUERY]}
    )
    host.entries(request_id)
    everything = json.dumps(host.all())
    assert "secret query" not in everything
    assert "x-ms-client-principal" not in everything.lower()

    monkeypatch.setenv("AGENTOPS_STORE", "sqlite")
    monkeypatch.setenv("SQLITE_PATH", str(host.db))
    from agentops.settings import get_settings

    get_settings.cache_clear()
    try:
        assert cli(["audit", "verify"]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert "contoso:" in out and "fabrikam:" in out and "unauthenticated:" in out


def test_an_admins_read_of_another_tenants_run_names_both(host: Host) -> None:
    """The entry stays in the admin's chain, under the admin's identity, and names the run's
    tenant, so the compliance report shows the cross-tenant read."""
    admin = principal_headers("globex", "admin-7", "admin")
    run_id = host.client.post(
        "/api/agents/summarizer/runs", json={"queries": ["x"]}, headers=CONTOSO
    ).json()["runId"]
    response, entry = host.one("GET", f"/api/runs/{run_id}", admin)
    assert response.status_code == 200
    check(
        entry,
        tenant="globex",
        principal="admin-7",
        action="run.read",
        status=200,
        resource=f"runs/{run_id}",
    )
    assert entry["details"]["resource_tenant"] == "contoso"
    assert access_event_from(AuditEntry.from_doc(entry)).cross_tenant

    response, entry = host.one("POST", f"/api/runs/{run_id}/cancel", admin)
    assert response.status_code in {202, 409}  # a one-item run may have finished already
    check(
        entry,
        tenant="globex",
        principal="admin-7",
        action="run.cancel",
        status=response.status_code,
        resource=f"runs/{run_id}",
    )
    assert entry["details"]["resource_tenant"] == "contoso"

    # The owner's own read names no other tenant.
    _, entry = host.one("GET", f"/api/runs/{run_id}", CONTOSO)
    assert "resource_tenant" not in entry["details"]
