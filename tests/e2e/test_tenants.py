"""Callers authenticated by App Service Authentication see only their own tenant's runs, and
only operators get the Durable management URLs (they carry the host's system key)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from devhost.testing import Devhost, start_devhost
from tests.e2e.conftest import PROJECT_ROOT, app_env, principal_headers, wait_run

pytestmark = pytest.mark.slow


CONTOSO = principal_headers("contoso", "user-1", "runs.write")
FABRIKAM = principal_headers("fabrikam", "user-2", "runs.write")


def test_a_tenant_sees_its_runs_and_no_system_key(api: httpx.Client) -> None:
    started = api.post(
        "/api/agents/summarizer/runs", json={"queries": ["tenant text"]}, headers=CONTOSO
    )
    assert started.status_code == 202, started.text
    assert "code=" not in started.text
    body = started.json()
    assert body["statusQueryGetUri"] == body["runStatusUri"]
    run_id = body["runId"]

    view = wait_run(api, run_id, headers=CONTOSO)
    assert view["status"] == "completed" and view["counts"]["completed"] == 1


def test_another_tenant_cannot_read_or_cancel_a_run(api: httpx.Client) -> None:
    run_id = api.post(
        "/api/agents/summarizer/runs", json={"queries": ["private text"]}, headers=CONTOSO
    ).json()["runId"]
    assert api.get(f"/api/runs/{run_id}", headers=FABRIKAM).status_code == 404
    assert api.post(f"/api/runs/{run_id}/cancel", headers=FABRIKAM).status_code == 404
    # A user of the operator's own tenant without the admin role is just another tenant.
    local_user = principal_headers("local", "user-9", "runs.write")
    assert api.get(f"/api/runs/{run_id}", headers=local_user).status_code == 404
    assert api.post(f"/api/runs/{run_id}/cancel", headers=local_user).status_code == 404
    # Refused exactly as an unknown id is: the answer does not tell that the run exists.
    unknown = api.get(f"/api/runs/{'0' * 32}", headers=FABRIKAM)
    assert api.get(f"/api/runs/{run_id}", headers=FABRIKAM).json() == unknown.json()


ADMIN_ELSEWHERE = principal_headers("globex", "admin-1", "admin")


def test_an_admin_reads_and_cancels_any_tenants_run(api: httpx.Client, app_host: Devhost) -> None:
    """Every run an admin's list shows also opens and cancels, whatever its tenant."""
    done = api.post(
        "/api/agents/summarizer/runs", json={"queries": ["done text"]}, headers=CONTOSO
    ).json()["runId"]
    wait_run(api, done, headers=CONTOSO)
    listed = api.get("/api/runs", params={"limit": "100"}, headers=ADMIN_ELSEWHERE).json()
    assert done in {run["id"] for run in listed["runs"]}
    view = api.get(f"/api/runs/{done}", headers=ADMIN_ELSEWHERE)
    assert view.status_code == 200, view.text
    assert view.json()["id"] == done and view.json()["counts"]["completed"] == 1
    assert api.get(f"/api/runs/{done}", params={"limit": "1"}).status_code == 200  # operator
    # Already finished: the conflict, not a 404, since the admin may see it.
    assert api.post(f"/api/runs/{done}/cancel", headers=ADMIN_ELSEWHERE).status_code == 409

    simulator = f"{app_host.simulator_url}/sim"
    httpx.put(
        f"{simulator}/config", json={"latency": {"distribution": "fixed", "ms": 300}}, timeout=10
    ).raise_for_status()
    try:
        slow = api.post(
            "/api/agents/summarizer/runs",
            json={"queries": [f"text {n}" for n in range(40)], "options": {"max_in_flight": 1}},
            headers=FABRIKAM,
        ).json()["runId"]
        canceled = api.post(f"/api/runs/{slow}/cancel", headers=ADMIN_ELSEWHERE)
        assert canceled.status_code == 202, canceled.text
        view = wait_run(api, slow, headers=FABRIKAM)  # the owner sees the admin's cancel
        assert view["status"] == "canceled" and view["counts"]["pending"] > 0
    finally:
        httpx.post(f"{simulator}/reset", timeout=10)
        httpx.put(
            f"{simulator}/config", json={"latency": {"distribution": "fixed", "ms": 5}}, timeout=10
        )


def _principal(claims: list[dict[str, str]], **document: str) -> dict[str, str]:
    body = {"auth_typ": "aad", "claims": claims, **document}
    return {"x-ms-client-principal": base64.b64encode(json.dumps(body).encode()).decode()}


_USER = [{"typ": "tid", "val": "fabrikam"}, {"typ": "oid", "val": "user-2"}]


@pytest.mark.parametrize(
    "headers",
    [
        # The role named by a claim type that carries no roles.
        _principal([*_USER, {"typ": "groups", "val": "admin"}]),
        _principal([*_USER, {"typ": "scp", "val": "admin"}]),
        # Near misses of the role's value.
        _principal([*_USER, {"typ": "roles", "val": "Admin"}]),
        _principal([*_USER, {"typ": "roles", "val": " admin"}]),
        _principal([*_USER, {"typ": "roles", "val": "admin,runs.write"}]),
        # A role beside the principal document rather than in it.
        {**FABRIKAM, "x-ms-client-principal-roles": "admin", "x-admin": "true"},
        {**FABRIKAM, "x-ms-client-principal-name": "admin"},
    ],
    ids=["groups", "scp", "case", "space", "joined", "side-headers", "name-header"],
)
def test_forged_admin_claims_do_not_open_another_tenants_run(
    api: httpx.Client, headers: dict[str, str]
) -> None:
    run_id = api.post(
        "/api/agents/summarizer/runs", json={"queries": ["private text"]}, headers=CONTOSO
    ).json()["runId"]
    assert api.get(f"/api/runs/{run_id}", headers=headers).status_code == 404
    assert api.post(f"/api/runs/{run_id}/cancel", headers=headers).status_code == 404
    listed = api.get("/api/runs", params={"limit": "100"}, headers=headers).json()["runs"]
    assert run_id not in {run["id"] for run in listed}


@pytest.mark.parametrize("run_id", ["..", "%2e%2e", "..%2f..%2fruns", "a" * 65, "%00", "runs"])
def test_hostile_ids_read_as_unknown_to_an_admin_too(api: httpx.Client, run_id: str) -> None:
    for response in (
        api.get(f"/api/runs/{run_id}", headers=ADMIN_ELSEWHERE),
        api.post(f"/api/runs/{run_id}/cancel", headers=ADMIN_ELSEWHERE),
    ):
        # Never a run, never a server error: refused by the id's syntax or unknown.
        assert response.status_code in {400, 404, 405}, (run_id, response.status_code)
        assert "tenant" not in response.text


def test_an_unreadable_principal_header_is_401(api: httpx.Client) -> None:
    started = api.post(
        "/api/agents/summarizer/runs",
        json={"queries": ["x"]},
        headers={"x-ms-client-principal": "%%%"},
    )
    assert started.status_code == 401


def test_without_app_service_authentication_the_principal_header_is_refused(
    tmp_path: Path,
) -> None:
    env = app_env(tmp_path, WEBSITE_AUTH_ENABLED="false")
    with (
        start_devhost(PROJECT_ROOT, env=env) as host,
        httpx.Client(base_url=host.base_url, headers=host.function_headers, timeout=30) as api,
    ):
        forged = api.post("/api/agents/summarizer/runs", json={"queries": ["x"]}, headers=CONTOSO)
        assert forged.status_code == 401
        assert "App Service Authentication" in forged.json()["detail"]
