"""Serving the simulator with uvicorn, in the current event loop or as a program."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

from devhost.simulator.app import create_app
from devhost.simulator.config import SimulatorConfig


@dataclass(frozen=True, slots=True)
class RunningSimulator:
    """A simulator being served: where to reach it, and its app (``app.state.simulator``)."""

    app: Starlette
    host: str
    port: int

    @property
    def url(self) -> str:
        """Base URL for ``AsyncOpenAI(base_url=...)`` (ends in ``/v1``)."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def azure_endpoint(self) -> str:
        """Endpoint for ``AsyncAzureOpenAI(azure_endpoint=...)``."""
        return f"http://{self.host}:{self.port}"


def _uvicorn_config(app: Starlette, host: str, port: int, log_level: str) -> uvicorn.Config:
    # No lifespan: the app has no start-up work. Access logs off: they cost more than a request.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        backlog=4096,
    )


async def _start(server: uvicorn.Server) -> tuple[asyncio.Task[None], int]:
    """Start serving; return the task and the bound port once listening."""
    task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers a flag, not an event
        if task.done():
            task.result()  # start-up failed: raise its error
            raise RuntimeError("simulator server stopped during start-up")
        await asyncio.sleep(0.005)
    return task, server.servers[0].sockets[0].getsockname()[1]


@contextlib.asynccontextmanager
async def serve_in_background(
    config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
) -> AsyncIterator[RunningSimulator]:
    """Serve on ``host:port`` (0 picks a free port) in this loop until the block ends."""
    app = create_app(config)
    server = uvicorn.Server(_uvicorn_config(app, host, port, log_level))
    task, bound_port = await _start(server)
    try:
        yield RunningSimulator(app, host, bound_port)
    finally:
        server.should_exit = True
        await task


async def serve_forever(
    config: SimulatorConfig, host: str, port: int, log_level: str = "warning"
) -> None:
    """Serve until SIGINT or SIGTERM, printing the bound address once listening."""
    server = uvicorn.Server(_uvicorn_config(create_app(config), host, port, log_level))
    task, bound_port = await _start(server)
    print(f"model simulator listening on http://{host}:{bound_port}/v1", flush=True)
    await task
