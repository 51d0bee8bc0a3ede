"""Callers authenticated by App Service Authentication see only their own tenant's runs, and
only operators get the Durable management URLs (they carry the host's system key)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from devhost.testing import start_devhost
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
    assert api.get(f"/api/runs/{run_id}").status_code == 404  # the local tenant is another one


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
