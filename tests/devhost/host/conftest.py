"""Fixtures: devhost started as a subprocess on free loopback ports, stopped after the module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devhost.testing import Devhost, start_devhost

APPS = Path(__file__).resolve().parent.parent / "apps"
HTTP_APP = APPS / "http_basic"


@pytest.fixture(scope="module")
def timer_marks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("timer-marks")


@pytest.fixture(scope="module")
def devhost(timer_marks: Path) -> Iterator[Devhost]:
    env = {"EVERY_SECOND": "* * * * * *", "TIMER_MARKER_DIR": str(timer_marks)}
    with start_devhost(HTTP_APP, env=env) as running:
        yield running


@pytest.fixture
def client(devhost: Devhost) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=devhost.base_url, timeout=10) as http:
        yield http
