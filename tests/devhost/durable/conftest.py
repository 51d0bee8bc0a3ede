"""Fixtures: a durable engine for a test app, served in-process over loopback HTTP, and the
Durable SDK's own client bound to it."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import azure.durable_functions as df
import pytest
import uvicorn
from azure.durable_functions.models.utils import http_utils
from starlette.applications import Starlette
from starlette.routing import Mount

from devhost.durable import DurableEngine
from devhost.durable.binding import DurableUrls
from devhost.durable.versioning import VersioningPolicy

APPS = Path(__file__).resolve().parent.parent / "apps"
SYSTEM_KEY = "test-system-key"


def load_app(name: str) -> ModuleType:
    """Import tests/devhost/apps/<name>/function_app.py under a unique module name."""
    path = APPS / name / "function_app.py"
    module_name = f"durable_test_app_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class EngineServer:
    engine: DurableEngine
    module: ModuleType
    base_url: str
    client: df.DurableOrchestrationClient
    db_path: Path


async def _serve(engine: DurableEngine) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    router = engine.router()
    app = Starlette(
        routes=[
            Mount("/durabletask", app=router),
            Mount("/runtime/webhooks/durabletask", app=router),
        ]
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"


@pytest.fixture
async def serve_engine(
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Awaitable[EngineServer]]]:
    """Start an engine for an app (time skipping on by default) and stop everything afterwards."""
    running: list[tuple[DurableEngine, uvicorn.Server, asyncio.Task[None]]] = []

    async def start(
        app_name: str,
        *,
        db_path: Path | None = None,
        time_skipping: bool = True,
        max_concurrent_activities: int = 8,
        versioning: VersioningPolicy | None = None,
        http_poll_interval_ms: int = 30_000,
    ) -> EngineServer:
        module = load_app(app_name)
        path = db_path or tmp_path / "durable.sqlite3"
        engine = DurableEngine(
            module.app.get_functions(),
            db_path=path,
            task_hub="TestHub",
            max_concurrent_activities=max_concurrent_activities,
            max_concurrent_orchestrators=2,
            time_skipping=time_skipping,
            versioning=versioning,
            http_poll_interval_ms=http_poll_interval_ms,
        )
        await engine.start()
        server, task, base_url = await _serve(engine)
        running.append((engine, server, task))
        # One listener for both mounts keeps the harness small; devhost itself serves the RPC
        # routes on a separate loopback listener (tests/devhost/host/test_durable_security.py).
        engine.publish(
            DurableUrls(
                public_base_url=base_url,
                system_key=SYSTEM_KEY,
                rpc_base_url=f"{base_url}/durabletask/",
            )
        )
        client = df.DurableOrchestrationClient(engine.client_binding_json())
        return EngineServer(engine, module, base_url, client, path)

    yield start
    for engine, server, task in running:
        server.should_exit = True
        await task
        await engine.stop()
    # The SDK keeps one aiohttp session per process; it belongs to this test's event loop.
    await http_utils._close_session()


async def wait_for_status(
    client: df.DurableOrchestrationClient, instance_id: str, *statuses: str, within: float = 10
) -> df.DurableOrchestrationStatus:
    """Poll through the SDK client until the instance reaches one of `statuses`."""
    wanted = statuses or ("Completed", "Failed", "Terminated")
    deadline = asyncio.get_running_loop().time() + within
    while True:
        status = await client.get_status(instance_id)
        if status.runtime_status is not None and status.runtime_status.value in wanted:
            return status
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{instance_id} still {status.runtime_status} after {within}s")
        await asyncio.sleep(0.01)
