"""End-to-end fixtures: the real app served by devhost, with its model simulator, over HTTP."""

from __future__ import annotations

import base64
import functools
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentops.settings import Settings
from devhost.testing import Devhost, start_devhost

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {"completed", "failed", "canceled", "stopped"}
# A fresh data encryption key per session: the sensitive agent (triage) is refused without one.
DATA_KEYS = json.dumps(
    {"active": "e2e", "keys": {"e2e": base64.b64encode(os.urandom(32)).decode()}}
)

BACKUP_KEYS = json.dumps(
    {"active": "b1", "keys": {"b1": base64.b64encode(os.urandom(32)).decode()}}
)


@functools.cache
def app_functions() -> tuple[Any, ...]:
    """The app's functions, indexed once: azure.functions refuses to index one app twice."""
    import function_app

    return tuple(function_app.app.get_functions())


def principal_headers(tenant: str, user: str, *roles: str) -> dict[str, str]:
    """X-MS-CLIENT-PRINCIPAL as App Service Authentication sends it."""
    claims = [{"typ": "tid", "val": tenant}, {"typ": "oid", "val": user}]
    claims += [{"typ": "roles", "val": role} for role in roles]
    document = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": "roles"}
    return {"x-ms-client-principal": base64.b64encode(json.dumps(document).encode()).decode()}


# The signed-in operator most tests act as: its own tenant, and the admin role.
OPERATOR = principal_headers("local", "operator", "runs.write", "admin")


def app_env(tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "TASKHUB_NAME": "e2e",
        "AGENTOPS_STORE": "sqlite",
        "SQLITE_PATH": str(tmp / "agentops.db"),
        "SIM_LATENCY_MS": "5",
        # The tests play App Service Authentication, which vouches for x-ms-client-principal.
        "WEBSITE_AUTH_ENABLED": "true",
        # The routes take the HTTP streams extension's types: the worker needs this, as in Azure.
        "PYTHON_ENABLE_INIT_INDEXING": "1",
        "FUNCTIONS_WORKER_PROCESS_COUNT": os.environ.get("E2E_WORKER_PROCESSES", "1"),
        # Tests poll fast; the request limits have tests of their own.
        "TENANT_REQUESTS_PER_MINUTE": "0",
        "USER_REQUESTS_PER_MINUTE": "0",
        "DATA_ENCRYPTION_KEYS": DATA_KEYS,
        # Timer schedules are binding expressions the host resolves: the setting must exist.
        "BACKUP_SCHEDULE": Settings.model_fields["backup_schedule"].default,
        "COST_REPORT_SCHEDULE": Settings.model_fields["cost_report_schedule"].default,
        "COMPLIANCE_REPORT_SCHEDULE": Settings.model_fields["compliance_report_schedule"].default,
        "BACKUP_ENCRYPTION_KEY": BACKUP_KEYS,
        "BLOB_ROOT": str(tmp / "blobs"),
        **extra,
    }


@pytest.fixture(scope="module")
def app_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devhost]:
    tmp = tmp_path_factory.mktemp("app")
    with start_devhost(
        PROJECT_ROOT, env=app_env(tmp), simulator=True, simulator_setting="MODEL_ENDPOINT"
    ) as host:
        yield host


@pytest.fixture
def api(app_host: Devhost) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=app_host.base_url, headers={**app_host.function_headers, **OPERATOR}, timeout=30
    ) as client:
        yield client


def start_run(api: httpx.Client, agent: str, queries: list[str], **options: Any) -> dict[str, Any]:
    response = api.post(f"/api/agents/{agent}/runs", json={"queries": queries, "options": options})
    assert response.status_code == 202, response.text
    return response.json()


def wait_run(
    api: httpx.Client,
    run_id: str,
    timeout: float = 60,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/api/runs/{run_id}", params={"limit": 1}, headers=headers)
        assert response.status_code == 200, response.text
        view = response.json()
        if view["status"] in TERMINAL:
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} did not finish: {view}")
        time.sleep(0.1)


def all_items(api: httpx.Client, run_id: str, limit: int = 7) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        view = api.get(f"/api/runs/{run_id}", params=params).json()
        items.extend(view["items"])
        if not view["continuation"]:
            return items
        params["continuation"] = view["continuation"]
