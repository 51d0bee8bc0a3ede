"""Versioning rules (comparison, host.json parsing) and the engine's Reject path over loopback."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from devhost.durable.versioning import (
    VersionFailureStrategy,
    VersioningPolicy,
    VersionMatchStrategy,
    compare_versions,
)
from devhost.loader import AppLoadError, read_host_config

from .conftest import wait_for_status

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        (None, "", 0),  # empty versions are equal
        (None, "0.1", -1),  # and older than any version
        ("1.0", None, 1),
        ("1.10", "1.9", 1),  # System.Version compares numerically
        ("1.0", "1.0.0", -1),  # an absent build number is older than 0
        ("2.0.0.1", "2.0.0.1", 0),
        ("10", "9", -1),  # one component is not a System.Version: compared as text
        ("V1-Release", "v1-release", 0),  # case-insensitively
    ],
)
def test_versions_compare_as_durable_documents(
    left: str | None, right: str | None, expected: int
) -> None:
    assert compare_versions(left, right) == expected


def test_current_or_older_accepts_older_and_unversioned_but_not_newer() -> None:
    policy = VersioningPolicy(default_version="1.0")
    assert policy.mismatch("1.0") is None
    assert policy.mismatch("0.9") is None
    assert policy.mismatch(None) is None
    assert policy.mismatch("1.1") == (
        "The orchestration version '1.1' is greater than the worker version '1.0'."
    )
    assert VersioningPolicy(match=VersionMatchStrategy.NONE).mismatch("9.9") is None


def _write_host_json(root: Path, durable: dict[str, object]) -> None:
    root.joinpath("host.json").write_text(
        json.dumps({"version": "2.0", "extensions": {"durableTask": durable}})
    )


def test_host_json_versioning_settings_are_read_case_insensitively(tmp_path: Path) -> None:
    _write_host_json(
        tmp_path,
        {
            "defaultVersion": "3.1",
            "versionMatchStrategy": "strict",
            "versionFailureStrategy": "FAIL",
            "httpSettings": {"defaultAsyncRequestSleepTimeMilliseconds": 250},
        },
    )
    config = read_host_config(tmp_path, {})
    assert config.versioning == VersioningPolicy(
        "3.1", VersionMatchStrategy.STRICT, VersionFailureStrategy.FAIL
    )
    assert config.http_poll_interval_ms == 250


def test_host_json_without_versioning_keeps_azure_defaults(tmp_path: Path) -> None:
    _write_host_json(tmp_path, {})
    config = read_host_config(tmp_path, {})
    assert config.versioning == VersioningPolicy(
        None, VersionMatchStrategy.CURRENT_OR_OLDER, VersionFailureStrategy.REJECT
    )


@pytest.mark.parametrize(
    ("durable", "message"),
    [
        ({"defaultVersion": 2}, "extensions.durableTask.defaultVersion must be a string, got 2"),
        (
            {"versionFailureStrategy": "Retry"},
            "extensions.durableTask.versionFailureStrategy must be one of Reject, Fail, "
            "got 'Retry'",
        ),
    ],
)
def test_bad_versioning_settings_name_the_key(
    tmp_path: Path, durable: dict[str, object], message: str
) -> None:
    _write_host_json(tmp_path, durable)
    with pytest.raises(AppLoadError, match=message):
        read_host_config(tmp_path, {})


async def test_strict_reject_leaves_a_mismatched_child_pending_until_terminated(serve_engine):
    policy = VersioningPolicy("1.0", VersionMatchStrategy.STRICT, VersionFailureStrategy.REJECT)
    served = await serve_engine("durable_versioning", versioning=policy)
    parent = await served.client.start_new("checkout", version="1.0")
    await wait_for_status(served.client, parent, "Running")
    await served.client.raise_event(parent, "Continue", None)
    child = f"{parent}:1"  # the child pinned to 0.9
    deadline = asyncio.get_running_loop().time() + 5
    while child not in served.engine.instances:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    status = await served.client.get_status(child)
    assert status.runtime_status == OrchestrationRuntimeStatus.Pending
    assert status.version == "0.9"  # the status carries the version
    assert (await served.client.get_status(parent)).runtime_status == (
        OrchestrationRuntimeStatus.Running
    )
    # Terminate still reaches a rejected instance, and its parent hears of it.
    await served.client.terminate(child, "wrong version")
    await wait_for_status(served.client, child, "Terminated")
    status = await wait_for_status(served.client, parent)
    assert status.runtime_status == OrchestrationRuntimeStatus.Failed
    assert "terminated" in status.output


async def test_restart_keeps_the_instance_version(serve_engine):
    served = await serve_engine("durable_versioning", versioning=VersioningPolicy("1.0"))
    first = await served.client.start_new("checkout", version="0.5")
    await wait_for_status(served.client, first, "Running")
    await served.client.terminate(first, "again")
    await wait_for_status(served.client, first, "Terminated")
    second = await served.client.restart(first)
    status = await wait_for_status(served.client, second, "Running")
    assert second != first
    assert status.version == "0.5"


async def test_a_task_hub_from_before_versioning_opens_and_its_instances_stay_unversioned(
    serve_engine, tmp_path: Path
):
    db_path = tmp_path / "old.sqlite3"
    with sqlite3.connect(db_path) as conn:
        # The instances table as devhost wrote it before it kept versions.
        conn.execute(
            "CREATE TABLE instances (hub TEXT NOT NULL, instance_id TEXT NOT NULL,"
            " name TEXT NOT NULL, execution_id TEXT NOT NULL, status TEXT NOT NULL, input TEXT,"
            " output TEXT, custom_status TEXT, created_time TEXT NOT NULL,"
            " last_updated_time TEXT NOT NULL, parent_instance_id TEXT,"
            " parent_execution_id TEXT, parent_task_id INTEGER, PRIMARY KEY (hub, instance_id))"
        )
        conn.execute(
            "INSERT INTO instances VALUES ('TestHub', 'old', 'version_of', 'e1', 'Completed',"
            " NULL, '\"x\"', NULL, '2026-01-01T00:00:00.000000Z',"
            " '2026-01-01T00:00:00.000000Z', NULL, NULL, NULL)"
        )
    served = await serve_engine(
        "durable_versioning", db_path=db_path, versioning=VersioningPolicy("1.0")
    )
    old = await served.client.get_status("old")
    assert old.runtime_status == OrchestrationRuntimeStatus.Completed
    assert old.version is None
    new = await served.client.start_new("version_of")
    assert (await wait_for_status(served.client, new)).output == "1.0"
