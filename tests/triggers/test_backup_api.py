"""How the backup routes read the durable engine's answers: a backup or restore in each runtime
state, as the Durable HTTP API reports it (`DurableOrchestrationStatus.from_json`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.durable_functions.models.DurableOrchestrationStatus import (
    DurableOrchestrationStatus,
)

from triggers.backup_api import _backup_state, _restore_view

RESTORE_ID = "0123456789abcdef0123456789abcdef"
WORK = {"restore_id": RESTORE_ID, "backup_id": "backup-1", "tenant": None, "dry_run": True}
TIMES = {"createdTime": "2026-12-02T18:00:00Z", "lastUpdatedTime": "2026-12-02T18:00:05Z"}


def _status(**fields: Any) -> DurableOrchestrationStatus:
    return DurableOrchestrationStatus.from_json({**TIMES, **fields})


class _Engine:
    """The durable client's one call these routes make to read a backup's state."""

    def __init__(self, status: DurableOrchestrationStatus) -> None:
        self.status = status

    async def get_status(self, instance_id: str) -> DurableOrchestrationStatus:
        return self.status


@pytest.mark.parametrize(
    ("name", "runtime", "expected"),
    [
        ("store_backup", "Pending", "running"),
        ("store_backup", "Running", "running"),
        ("store_backup", "Suspended", "running"),
        ("store_backup", "Failed", "failed"),
        ("store_backup", "Terminated", "failed"),
        ("store_backup", "Completed", None),  # completed, yet no manifest: its blobs are gone
        ("agent_batch", "Running", None),  # not a backup
    ],
)
async def test_a_backup_without_a_manifest_is_running_failed_or_unknown(
    name: str, runtime: str, expected: str | None
) -> None:
    engine = _Engine(_status(name=name, instanceId="backup-1", runtimeStatus=runtime))
    assert await _backup_state(engine, "backup-1") == expected  # type: ignore[arg-type]


async def test_an_instance_the_engine_does_not_know_is_unknown() -> None:
    # What the SDK makes of the engine's 404 body.
    engine = _Engine(DurableOrchestrationStatus.from_json({"Message": "No instance"}))
    assert await _backup_state(engine, "backup-1") is None  # type: ignore[arg-type]


def test_a_running_restore_has_no_counts_yet() -> None:
    view = _restore_view(_status(name="store_restore", runtimeStatus="Running", input=WORK))
    assert (view.status, view.counts, view.problems, view.dry_run) == ("running", None, [], True)


def test_a_completed_restore_gives_its_counts() -> None:
    output = {"backup_id": "backup-1", "dry_run": True, "tenant": None, "counts": {"runs": 2}}
    view = _restore_view(
        _status(name="store_restore", runtimeStatus="Completed", input=WORK, output=output)
    )
    assert (view.status, view.counts, view.problems) == ("completed", {"runs": 2}, [])


def test_a_refused_restore_gives_the_verifications_problems() -> None:
    custom = {"problems": ["items-00000.jsonl.gz.aes: frame 0 does not decrypt"]}
    view = _restore_view(
        _status(
            name="store_restore",
            runtimeStatus="Failed",
            input=WORK,
            customStatus=custom,
            output="Orchestrator function 'store_restore' failed: ...",
        )
    )
    assert (view.status, view.counts, view.problems) == ("failed", None, custom["problems"])


def test_a_restore_stopped_otherwise_says_how() -> None:
    view = _restore_view(_status(name="store_restore", runtimeStatus="Terminated", input=WORK))
    assert view.status == "failed" and view.problems == [
        "the restore stopped (Terminated) before it finished"
    ]


def test_input_handed_over_as_json_text_is_read_too() -> None:
    view = _restore_view(
        _status(name="store_restore", runtimeStatus="Running", input=json.dumps(WORK))
    )
    assert view.id == RESTORE_ID and view.backup_id == "backup-1"
