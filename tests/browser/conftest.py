"""Headless Chromium (the Debian `chromium` and `chromium-driver` packages) driven by Selenium,
against the real app in devhost. `scripts/test.sh` installs the packages; without them these
tests are skipped, or fail when AGENTOPS_REQUIRE_BROWSER is set (as the CI sets it)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = PROJECT_ROOT / ".artifacts" / "screenshots"


def _missing() -> str | None:
    if not CHROMIUM.exists() or shutil.which("chromedriver") is None:
        return "needs the Debian packages chromium and chromium-driver (apt-get install)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "needs selenium (requirements-dev.txt)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    reason = _missing()
    if reason:
        if os.environ.get("AGENTOPS_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1280,900")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
