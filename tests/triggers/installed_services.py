"""The app's services over SQLite and the model simulator, installed as the ones the routes get
(`agentops.bootstrap.get_services`), for calling route functions directly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from agentops import bootstrap
from agentops.bootstrap import Services, build_services
from agentops.settings import Settings
from devhost.simulator.config import SimulatorConfig
from devhost.simulator.server import serve_in_background


@asynccontextmanager
async def installed_services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: Any
) -> AsyncIterator[Services]:
    """`settings` add to (or replace) the local defaults: SQLite under `tmp_path`, the simulator
    as the model endpoint, App Service Authentication vouching for the principal header."""
    async with serve_in_background(SimulatorConfig()) as sim:
        defaults: dict[str, Any] = {
            "store": "sqlite",
            "sqlite_path": tmp_path / "agentops.db",
            "blob_root": tmp_path / "blobs",
            "model_endpoint": sim.url,
            "website_auth_enabled": True,
        }
        built = build_services(Settings(**{**defaults, **settings}))
        monkeypatch.setattr(bootstrap, "_services", built)
        try:
            yield built
        finally:
            await built.aclose()
