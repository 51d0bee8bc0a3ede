"""Headless Chromium as the browser tests and bench/monitor_page.py drive it (no pytest here)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu")
WINDOW = (1280, 900)


def missing() -> str | None:
    """Why the browser cannot start here, or None."""
    if not CHROMIUM.exists() or shutil.which("chromedriver") is None:
        return "needs the Debian packages chromium and chromium-driver (apt-get install)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "needs selenium (requirements-dev.txt)"
    return None


def new_driver() -> Any:
    """A Selenium Chrome driver on a fresh profile; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(30)
    return driver
