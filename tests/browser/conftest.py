"""Headless Chromium (the Debian `chromium` and `chromium-driver` packages) driven by Selenium,
against the real app in devhost. `scripts/test.sh` installs the packages; without them these
tests are skipped, or fail when AGENTOPS_REQUIRE_BROWSER is set (as the CI sets it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.chromium import missing, new_driver
from tests.e2e.conftest import PROJECT_ROOT

SCREENSHOTS = PROJECT_ROOT / ".artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    reason = missing()
    if reason:
        if os.environ.get("AGENTOPS_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    driver = new_driver()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
