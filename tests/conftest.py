"""Shared test configuration. Area-specific fixtures live beside their tests."""

from __future__ import annotations

import pytest

from tests.telemetry_capture import CapturedTelemetry, install


@pytest.fixture
def captured_telemetry() -> CapturedTelemetry:
    """Global in-memory metric and span providers; the view shows only this test's telemetry."""
    return install()
