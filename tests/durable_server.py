"""The durable engine's HTTP API on a loopback port, for tests that run the app's functions on
devhost's engine without the whole host."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from devhost.durable.binding import DurableUrls
from devhost.durable.engine import DurableEngine


@asynccontextmanager
async def served_engine(engine: DurableEngine, system_key: str) -> AsyncIterator[str]:
    """Serve `engine`'s router under /durabletask, publish its URLs to it, yield the base URL."""
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Mount("/durabletask", app=engine.router())]),
            host="127.0.0.1",
            port=0,
            log_level="warning",
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done()
        await asyncio.sleep(0.005)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    engine.publish(
        DurableUrls(
            public_base_url=base, system_key=system_key, rpc_base_url=f"{base}/durabletask/"
        )
    )
    try:
        yield base
    finally:
        server.should_exit = True
        await serving
