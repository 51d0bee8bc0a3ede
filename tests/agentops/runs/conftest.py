"""The app's services on a SQLite store, with the model simulator on loopback; test modules that
need other settings define their own ``services``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentops.bootstrap import Services, build_services
from agentops.settings import Settings
from devhost.simulator.config import SimulatorConfig
from devhost.simulator.server import serve_in_background


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with serve_in_background(SimulatorConfig()) as sim:
        built = build_services(
            Settings(store="sqlite", sqlite_path=tmp_path / "agentops.db", model_endpoint=sim.url)
        )
        yield built
        await built.aclose()
