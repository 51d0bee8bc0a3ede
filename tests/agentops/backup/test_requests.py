"""The backup routes' inputs: ids, bodies and list pages, refused before anything uses them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from agentops.backup import Manifest
from agentops.backup.contracts import check_backup_id
from agentops.backup.requests import (
    BACKUP_ID_PATTERN,
    CONTINUATION_PATTERN,
    BackupPage,
    BackupPath,
    RestorePath,
    RestoreRequest,
    list_token,
    page_of,
)
from agentops.backup.restores import RestoreWork, restore_instance_id, restores_prefix

T0 = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "backup_id", ["backup-2026120216", "backup-20261202T160000", "backup-" + "a" * 64]
)
def test_backup_ids_the_service_gives_out_are_taken(backup_id: str) -> None:
    assert BackupPath.model_validate({"backup_id": backup_id}).backup_id == backup_id


@pytest.mark.parametrize(
    "backup_id",
    [
        "",
        "..",
        "backup-..",
        "backup-a/b",
        "backup-a.b",
        "backup-%2e",
        "backup-",
        "backup-" + "a" * 65,
        "backup-a\n",  # Python's `$` would take this; the pattern does not
        "Backup-1",
        "run-1",
    ],
)
def test_other_backup_ids_are_refused(backup_id: str) -> None:
    with pytest.raises(ValidationError) as refused:
        BackupPath.model_validate({"backup_id": backup_id})
    assert refused.value.errors()[0]["loc"] == ("backup_id",)


def test_the_documented_pattern_agrees_with_the_model() -> None:
    for candidate in ("backup-1", "backup-a-b", "backup-a_b", "backup-1\n", "xbackup-1"):
        documented = re.fullmatch(BACKUP_ID_PATTERN.strip("^$"), candidate) is not None
        try:
            BackupPath.model_validate({"backup_id": candidate})
            accepted = True
        except ValidationError:
            accepted = False
        assert documented == accepted, candidate


@pytest.mark.parametrize("restore_id", ["a" * 31, "a" * 33, "A" * 32, "g" * 32, "..", ""])
def test_restore_ids_are_uuid_hex_only(restore_id: str) -> None:
    with pytest.raises(ValidationError):
        RestorePath.model_validate({"backup_id": "backup-1", "restore_id": restore_id})


@pytest.mark.parametrize(
    "body",
    [
        {"dry_run": True},
        {"dry_run": False, "tenant": "contoso"},
        {"dry_run": False, "tenant": None},
        {"dry_run": True, "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47"},
        {"dry_run": True, "tenant": "Contoso Ltd. (EU)"},
    ],
)
def test_restore_requests_that_are_taken(body: dict[str, Any]) -> None:
    request = RestoreRequest.model_validate(body)
    assert request.dry_run is body["dry_run"]
    assert request.tenant == body.get("tenant")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "dry_run"),  # a restore writes only when the caller says so
        ({"dry_run": "false"}, "dry_run"),
        ({"dry_run": 0}, "dry_run"),
        ({"dry_run": None}, "dry_run"),
        ({"dry_run": True, "tenant": ""}, "tenant"),
        ({"dry_run": True, "tenant": "a/b"}, "tenant"),
        ({"dry_run": True, "tenant": "a#b"}, "tenant"),
        ({"dry_run": True, "tenant": "a\x00"}, "tenant"),
        ({"dry_run": True, "tenant": "t" * 256}, "tenant"),
        ({"dry_run": True, "tenant": "\ud800"}, "tenant"),
        ({"dry_run": True, "tenant": 7}, "tenant"),
        ({"dry_run": True, "dryRun": True}, "dryRun"),
        ({"dry_run": True, "collections": ["runs"]}, "collections"),
    ],
)
def test_restore_requests_that_are_refused(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        RestoreRequest.model_validate(body)
    assert field in {str(error["loc"][0]) for error in refused.value.errors()}


def _manifest(backup_id: str, created_at: datetime) -> Manifest:
    return Manifest(
        backup_id=backup_id,
        period_start=created_at,
        period_end=created_at,
        created_at=created_at,
        parts=(),
    )


def test_pages_walk_every_backup_once_newest_first() -> None:
    manifests = [_manifest(f"backup-{n:02d}", T0 - timedelta(hours=n)) for n in range(7)]
    seen: list[str] = []
    token: str | None = None
    while True:
        page = BackupPage.model_validate(
            {"limit": "3", **({"continuation": token} if token else {})}
        )
        chosen, token = page_of(manifests, page)
        seen += [m.backup_id for m in chosen]
        if token is None:
            break
        assert re.fullmatch(CONTINUATION_PATTERN.strip("^$"), token)
    assert seen == [m.backup_id for m in manifests]


def test_a_page_resumes_after_its_token_when_backups_come_and_go() -> None:
    manifests = [_manifest(f"backup-{n:02d}", T0 - timedelta(hours=n)) for n in range(5)]
    first, token = page_of(manifests, BackupPage(limit=2))
    assert [m.backup_id for m in first] == ["backup-00", "backup-01"] and token
    # A new backup arrives and the last one listed is pruned before the next page is read.
    later = [_manifest("backup-new", T0 + timedelta(hours=1)), manifests[0], *manifests[2:]]
    rest, token = page_of(later, BackupPage(limit=10, continuation=token))
    assert [m.backup_id for m in rest] == ["backup-02", "backup-03", "backup-04"]
    assert token is None


def test_backups_made_in_the_same_instant_page_by_id() -> None:
    manifests = sorted(
        (_manifest(f"backup-{c}", T0) for c in "abc"),
        key=lambda m: (m.created_at, m.backup_id),
        reverse=True,
    )
    first, token = page_of(manifests, BackupPage(limit=1))
    assert token == list_token(first[0])
    second, _ = page_of(manifests, BackupPage(limit=5, continuation=token))
    assert [m.backup_id for m in first + second] == ["backup-c", "backup-b", "backup-a"]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "1e2"},
        {"limit": " 5"},
        {"limit": "٣"},
        {"continuation": "backup-1"},
        {"continuation": "20261202T160000000000-run-1"},
        {"continuation": "20261202T160000000000-backup-../x"},
    ],
)
def test_bad_list_queries_are_refused(query: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        BackupPage.model_validate(query)


def test_one_backups_restores_never_share_a_prefix_with_anothers() -> None:
    work = RestoreWork(restore_id="a" * 32, backup_id="backup-2026", dry_run=True)
    assert work.instance_id == restore_instance_id("backup-2026", "a" * 32)
    assert work.instance_id.startswith(restores_prefix("backup-2026"))
    # backup-2026-x begins with backup-2026, but its restores do not begin with that prefix.
    other = restore_instance_id("backup-2026-x", "a" * 32)
    assert not other.startswith(restores_prefix("backup-2026"))
    with pytest.raises(ValueError):
        restores_prefix("backup-a.b")


@pytest.mark.parametrize(
    "value", ["backup-2026120216\n", "backup-", "backup-../x", "Backup-1", "backup-" + "a" * 65]
)
def test_the_service_refuses_a_backup_id_out_of_shape(value: str) -> None:
    # The CLI reaches the service without the routes' models: a trailing newline, which `$`
    # would let through, is refused there too.
    with pytest.raises(ValueError):
        check_backup_id(value)
