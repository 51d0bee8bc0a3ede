"""The app end to end on the Cosmos DB adapter: devhost, the simulator and the local
Cosmos-compatible server, with only app settings switched."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from devhost.testing import start_devhost
from tests.agentops.store.conftest import (  # the server fixture and infrastructure set-up
    EMULATOR_KEY,
    CosmosServer,
    cosmos_server,  # noqa: F401
    create_database,
    delete_database,
)
from tests.e2e.conftest import OPERATOR, PROJECT_ROOT, all_items, app_env, start_run, wait_run

pytestmark = [pytest.mark.slow, pytest.mark.cosmos]


def test_a_batch_runs_on_the_cosmos_store(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    server: CosmosServer = request.getfixturevalue("cosmos_server")
    database = f"e2e-{uuid.uuid4().hex[:10]}"
    asyncio.run(create_database(server, database))
    try:
        env = app_env(
            tmp_path,
            AGENTOPS_STORE="cosmos",
            COSMOS_ENDPOINT=server.endpoint,
            COSMOS_KEY=EMULATOR_KEY,
            COSMOS_DATABASE=database,
            COSMOS_ENDPOINT_DISCOVERY="false",
            TENANT_BUDGETS='{"local": {"tokens": 100000000}}',
            NO_PROXY="127.0.0.1",
        )
        with (
            start_devhost(
                PROJECT_ROOT, env=env, simulator=True, simulator_setting="MODEL_ENDPOINT"
            ) as host,
            httpx.Client(
                base_url=host.base_url, headers={**host.function_headers, **OPERATOR}, timeout=30
            ) as api,
        ):
            started = start_run(api, "calculator", [f"add {n} and 1" for n in range(25)])
            view = wait_run(api, started["runId"])
            assert view["status"] == "completed"
            assert view["counts"] == {"pending": 0, "completed": 25, "failed": 0}
            items = all_items(api, started["runId"], limit=10)
            assert [i["index"] for i in items] == list(range(25))
            assert "returned 8" in items[7]["answer"]
            asked = api.post("/api/agents/summarizer/run", json={"query": "Cosmos holds this."})
            assert asked.status_code == 200
            assert "SqliteStore" not in host.output
    finally:
        asyncio.run(delete_database(server, database))
