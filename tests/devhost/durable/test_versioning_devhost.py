"""Orchestration versioning in real devhost, as the Durable versioning sample shows it: the
version comes from host.json's defaultVersion or from the starter, an instance keeps its version
across a restart with a new defaultVersion, and a version the host does not accept waits."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devhost.testing import Devhost, DevhostStartError, start_devhost

from .conftest import APPS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

SESSION_LEFT_OPEN = "durable client session left open at exit"


def _set_host_json(root: Path, **durable: Any) -> None:
    path = root / "host.json"
    document = json.loads(path.read_text())
    document["extensions"]["durableTask"].update(durable)
    path.write_text(json.dumps(document))


@pytest.fixture
def app_root(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    shutil.copytree(APPS / "durable_versioning", root)
    return root


@pytest.fixture
def devhost(app_root: Path, tmp_path: Path) -> Iterator[Devhost]:
    with start_devhost(app_root, data_dir=tmp_path / "data") as running:
        yield running


def _start(devhost: Devhost, version: str | None = None) -> dict[str, str]:
    params = {"version": version} if version is not None else {}
    response = httpx.post(devhost.url("/api/orchestrators/checkout"), params=params)
    assert response.status_code == 202, response.text
    return response.json()


def _status(urls: dict[str, str]) -> dict[str, Any]:
    return httpx.get(urls["statusQueryGetUri"]).json()


def _wait(urls: dict[str, str], *, custom_status: str | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        status = _status(urls)
        if status["runtimeStatus"] in ("Completed", "Failed", "Terminated"):
            return status
        if custom_status is not None and status["customStatus"] == custom_status:
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.02)


def _continue(urls: dict[str, str]) -> None:
    url = urls["sendEventPostUri"].replace("{eventName}", "Continue")
    assert httpx.post(url, json=None).status_code == 202


def test_new_instances_get_the_default_version_and_children_their_own(devhost: Devhost):
    urls = _start(devhost)
    waiting = _wait(urls, custom_status="waiting for Continue")
    assert waiting["version"] == "1.0"  # the status query shows it
    _continue(urls)
    status = _wait(urls)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == {
        "version": "1.0",
        "charged": "order charged to card",
        "pinned": "0.9",
        "default": "1.0",
    }
    child = httpx.get(
        urls["statusQueryGetUri"].replace(f"/instances/{urls['id']}", f"/instances/{urls['id']}:1")
    ).json()
    assert child["version"] == "0.9"


def test_an_explicit_older_version_takes_the_other_branch(devhost: Devhost):
    urls = _start(devhost, version="0.5")
    _wait(urls, custom_status="waiting for Continue")
    _continue(urls)
    status = _wait(urls)
    assert status["version"] == "0.5"
    assert status["output"]["version"] == "0.5"
    assert status["output"]["charged"] == "order charged to wallet"


def test_an_instance_keeps_its_version_across_a_new_default_version(
    devhost: Devhost, app_root: Path
):
    old = _start(devhost)
    _wait(old, custom_status="waiting for Continue")
    newer = _start(devhost, version="2.0")
    time.sleep(0.5)
    # CurrentOrOlder with Reject (the defaults): a newer version is left alone, not failed.
    assert _status(newer)["runtimeStatus"] == "Pending"
    devhost.wait_for_output("is greater than the worker version '1.0'")

    devhost.stop()
    assert SESSION_LEFT_OPEN not in devhost.output
    assert "Unclosed client session" not in devhost.output
    _set_host_json(app_root, defaultVersion="2.0")
    devhost.start()

    _continue(old)
    status = _wait(old)
    assert status["output"] == {
        "version": "1.0",
        "charged": "order charged to card",  # its own version's path, as before the restart
        "pinned": "0.9",
        "default": "2.0",  # a child created now gets the new default
    }
    # The instance the old host rejected runs now.
    _wait(newer, custom_status="waiting for Continue")
    _continue(newer)
    assert _wait(newer)["output"]["charged"] == "order charged to wallet"


def test_strict_with_fail_fails_a_mismatched_instance_with_the_reason(
    devhost: Devhost, app_root: Path
):
    devhost.stop()
    _set_host_json(app_root, versionMatchStrategy="Strict", versionFailureStrategy="Fail")
    devhost.start()
    urls = _start(devhost, version="0.5")
    status = _wait(urls)
    assert status["runtimeStatus"] == "Failed"
    assert (
        "The orchestration version '0.5' does not match the worker version '1.0'."
        in (status["output"])
    )
    # The default version matches; its pinned child (0.9) does not, and fails the parent.
    urls = _start(devhost)
    _wait(urls, custom_status="waiting for Continue")
    _continue(urls)
    status = _wait(urls)
    assert status["runtimeStatus"] == "Failed"
    assert "does not match the worker version '1.0'" in status["output"]


def test_a_bad_strategy_in_host_json_stops_devhost_with_the_key(app_root: Path, tmp_path: Path):
    _set_host_json(app_root, versionMatchStrategy="Newest")
    with pytest.raises(DevhostStartError) as caught, start_devhost(app_root, data_dir=tmp_path):
        pass
    message = str(caught.value)
    assert "extensions.durableTask.versionMatchStrategy must be one of None, Strict, " in message
    assert "CurrentOrOlder, got 'Newest'" in message
