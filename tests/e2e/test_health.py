"""Health probes through devhost: anonymous, 200 when ready, 503 naming the check that failed."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import httpx
import jsonschema
import pytest

from devhost.testing import Devhost, free_port, start_devhost
from tests.e2e.conftest import PROJECT_ROOT, app_env

pytestmark = pytest.mark.slow


def test_live_and_ready_answer_without_a_function_key(app_host: Devhost) -> None:
    live = httpx.get(app_host.url("/api/health/live"), timeout=10)
    assert live.status_code == 200
    assert live.json() == {"status": "alive"}
    assert live.headers["cache-control"] == "no-store"

    ready = httpx.get(app_host.url("/api/health/ready"), timeout=30)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready" and body["failed"] == []
    assert body["checks"] == {"store": "ok", "blobs": "ok", "secrets": "ok", "model": "ok"}
    assert isinstance(body["breakers"], dict)

    document = httpx.get(app_host.url("/api/openapi.json"), timeout=10).json()
    for path, response in (("/api/health/live", live), ("/api/health/ready", ready)):
        described = document["paths"][path]["get"]
        assert described["security"] == []
        schema = described["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.validate(response.json(), schema)


def test_probes_take_nothing_from_the_caller(app_host: Devhost) -> None:
    # Parameters, bodies and other methods change nothing: the same answer, or no route.
    ready = httpx.get(app_host.url("/api/health/ready?check=none&timeout=0"), timeout=30)
    assert ready.status_code == 200 and ready.json()["checks"]["model"] == "ok"
    posted = httpx.post(app_host.url("/api/health/ready"), content=b"{}", timeout=10)
    assert posted.status_code in {404, 405}


@pytest.fixture(scope="module")
def host_without_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devhost]:
    # Nothing listens on this port: the model endpoint is down.
    env = app_env(
        tmp_path_factory.mktemp("nomodel"),
        MODEL_ENDPOINT=f"http://127.0.0.1:{free_port()}/v1",
        HEALTH_CACHE_S="0",
    )
    with start_devhost(PROJECT_ROOT, env=env) as host:
        yield host


def test_ready_is_503_naming_an_unreachable_model_endpoint(host_without_model: Devhost) -> None:
    assert httpx.get(host_without_model.url("/api/health/live"), timeout=10).status_code == 200
    ready = httpx.get(host_without_model.url("/api/health/ready"), timeout=30)
    assert ready.status_code == 503, ready.text
    body = ready.json()
    assert body["status"] == "not ready"
    assert body["failed"] == ["model"]
    assert body["checks"]["model"] == "unreachable"
    assert body["checks"]["store"] == "ok"
    assert "127.0.0.1" not in ready.text  # no endpoint, key or error text in the answer


def test_probes_leave_no_audit_entry(host_without_model: Devhost) -> None:
    for _ in range(3):
        httpx.get(host_without_model.url("/api/health/ready"), timeout=30)
        httpx.get(host_without_model.url("/api/health/live"), timeout=10)
    time.sleep(0.5)  # the audit writer appends in the background
    with sqlite3.connect(host_without_model.env["SQLITE_PATH"]) as connection:
        (entries,) = connection.execute("SELECT COUNT(*) FROM audit").fetchone()
    assert entries == 0
