"""A simulator served over real HTTP on loopback, and OpenAI SDK clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI

from devhost.simulator.config import SimulatorConfig
from devhost.simulator.server import RunningSimulator, serve_in_background

StartSimulator = Callable[..., AbstractAsyncContextManager[RunningSimulator]]


@pytest.fixture
def start_simulator() -> StartSimulator:
    """``async with start_simulator(**config_fields) as sim:`` serves a simulator on a free port."""

    def start(**fields: Any) -> AbstractAsyncContextManager[RunningSimulator]:
        return serve_in_background(SimulatorConfig.model_validate(fields))

    return start


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with serve_in_background(SimulatorConfig(deployments=["gpt-4o-mini", "other"])) as s:
        yield s


@pytest.fixture
async def client(sim: RunningSimulator) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=sim.url, api_key="unused", max_retries=0) as c:
        yield c


@pytest.fixture
async def azure_client(sim: RunningSimulator) -> AsyncIterator[AsyncAzureOpenAI]:
    async with AsyncAzureOpenAI(
        azure_endpoint=sim.azure_endpoint,
        api_key="unused",
        api_version="2024-10-21",
        max_retries=0,
    ) as c:
        yield c


@pytest.fixture
async def http(sim: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP, for what the SDK would refuse to send and for ``/sim`` control."""
    base = f"http://{sim.host}:{sim.port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as c:
        yield c


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]
