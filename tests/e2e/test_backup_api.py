"""The admin backup routes through devhost: back up, lose data, restore it; a dry run and a
damaged backup write nothing; every call is refused to non-admins and leaves an audit entry."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devhost.testing import Devhost, start_devhost
from tests.e2e.conftest import (
    OPERATOR,
    PROJECT_ROOT,
    app_env,
    principal_headers,
    start_run,
    wait_run,
)
from tests.e2e.replay import replay
from triggers.access import unverified_id

pytestmark = pytest.mark.slow

CONTOSO = principal_headers("contoso", "user-1", "runs.write")
FABRIKAM = principal_headers("fabrikam", "user-2", "runs.write")
NOT_ADMIN = principal_headers("local", "someone", "runs.write")
HUB = "backupapi"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devhost]:
    tmp = tmp_path_factory.mktemp("backups")
    # Every backup full: the tests here damage backups one at a time, and a damaged backup
    # that later incrementals build on would fail those too (chains have tests of their own).
    env = app_env(tmp, TASKHUB_NAME=HUB, MAX_REQUEST_BYTES=str(64 * 1024), BACKUP_FULL_EVERY="1")
    with start_devhost(
        PROJECT_ROOT,
        env=env,
        simulator=True,
        simulator_setting="MODEL_ENDPOINT",
        data_dir=tmp / "devhost",
    ) as devhost:
        yield devhost


@pytest.fixture
def api(host: Devhost) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=host.base_url, headers={**host.function_headers, **OPERATOR}, timeout=30
    ) as client:
        yield client


def _db(host: Devhost) -> sqlite3.Connection:
    return sqlite3.connect(host.env["SQLITE_PATH"], isolation_level=None)


def _rows(host: Devhost, table: str) -> list[str]:
    with _db(host) as connection:
        return sorted(repr(row) for row in connection.execute(f"SELECT * FROM {table}"))


def _forget_runs(host: Devhost, *run_ids: str) -> None:
    """The loss to recover from: the runs and their items deleted from the store."""
    with _db(host) as connection:
        for run_id in run_ids:
            connection.execute("DELETE FROM items WHERE run_id = ?", (run_id,))
            connection.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))


def _back_up(api: httpx.Client) -> str:
    started = api.post("/api/backups")
    assert started.status_code == 202, started.text
    backup_id = started.json()["id"]
    assert started.headers["location"].endswith(f"/api/backups/{backup_id}")
    deadline = time.monotonic() + 60
    while True:
        view = api.get(f"/api/backups/{backup_id}")
        assert view.status_code == 200, view.text
        if view.json()["status"] != "running":
            break
        assert time.monotonic() < deadline, view.text
        time.sleep(0.1)
    assert view.json()["status"] == "completed", view.text
    time.sleep(1.05)  # the next backup started by hand gets the next second's id
    return backup_id


def _restore(api: httpx.Client, backup_id: str, **body: Any) -> dict[str, Any]:
    started = api.post(f"/api/backups/{backup_id}/restore", json=body)
    assert started.status_code == 202, started.text
    accepted = started.json()
    assert accepted["backupId"] == backup_id and accepted["dryRun"] == body["dry_run"]
    return _wait_restore(api, started.headers["location"])


def _wait_restore(api: httpx.Client, location: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        view = api.get(location)
        assert view.status_code == 200, view.text
        if view.json()["status"] != "running":
            return view.json()
        assert time.monotonic() < deadline, view.text
        time.sleep(0.1)


def _part(host: Devhost, backup_id: str, collection: str) -> Path:
    folder = Path(host.env["BLOB_ROOT"]) / "backups" / backup_id
    return next(folder.glob(f"{collection}-*.jsonl.gz.aes"))


def test_a_lost_run_comes_back_from_a_backup_and_a_dry_run_writes_nothing(
    api: httpx.Client, host: Devhost
) -> None:
    mine = wait_run(api, start_run(api, "calculator", ["1+1", "2+2"])["runId"])["id"]
    theirs = wait_run(api, start_run(api, "calculator", ["3+3"])["runId"])["id"]
    backup_id = _back_up(api)

    manifest = api.get(f"/api/backups/{backup_id}").json()
    assert manifest["kind"] == "full" and manifest["schemaVersion"] >= 1
    assert manifest["counts"]["runs"] >= 2 and manifest["counts"]["items"] >= 3
    assert manifest["totalBytes"] == sum(p["bytes"] for p in manifest["parts"]) > 0
    assert {p["collection"] for p in manifest["parts"]} >= {"runs", "items", "audit"}
    assert all(len(p["sha256"]) == 64 and p["keyId"] == "b1" for p in manifest["parts"])
    listed = api.get("/api/backups").json()["backups"]
    assert listed[0]["id"] == backup_id and listed[0]["counts"] == manifest["counts"]
    verified = api.post(f"/api/backups/{backup_id}/verify")
    assert verified.status_code == 200
    assert verified.json() == {
        "backupId": backup_id,
        "ok": True,
        "counts": manifest["counts"],
        "problems": [],
    }

    _forget_runs(host, mine, theirs)
    assert api.get(f"/api/runs/{mine}").status_code == 404
    before = {table: _rows(host, table) for table in ("runs", "items", "threads")}

    dry = _restore(api, backup_id, dry_run=True)
    assert dry["status"] == "completed" and dry["dryRun"] is True and dry["problems"] == []
    assert dry["counts"]["runs"] == manifest["counts"]["runs"]
    assert dry["counts"]["items"] == manifest["counts"]["items"]
    assert {table: _rows(host, table) for table in before} == before

    done = _restore(api, backup_id, dry_run=False)
    assert done["status"] == "completed" and done["dryRun"] is False
    assert done["counts"] == dry["counts"]
    back = wait_run(api, mine)
    assert back["status"] == "completed" and back["counts"]["completed"] == 2
    assert api.get(f"/api/runs/{theirs}").status_code == 200


def test_one_tenant_is_restored_alone(api: httpx.Client, host: Devhost) -> None:
    contoso = wait_run(api, start_run_as(api, CONTOSO, ["1+2"]), headers=CONTOSO)["id"]
    fabrikam = wait_run(api, start_run_as(api, FABRIKAM, ["2+3"]), headers=FABRIKAM)["id"]
    backup_id = _back_up(api)
    _forget_runs(host, contoso, fabrikam)

    done = _restore(api, backup_id, dry_run=False, tenant="contoso")
    assert done["status"] == "completed" and done["tenant"] == "contoso"
    assert done["counts"]["runs"] == 1 and done["counts"]["items"] == 1
    assert done["counts"]["cache"] == 0
    assert api.get(f"/api/runs/{contoso}", headers=CONTOSO).status_code == 200
    assert api.get(f"/api/runs/{fabrikam}", headers=FABRIKAM).status_code == 404


def start_run_as(api: httpx.Client, who: dict[str, str], queries: list[str]) -> str:
    response = api.post("/api/agents/calculator/runs", json={"queries": queries}, headers=who)
    assert response.status_code == 202, response.text
    return str(response.json()["runId"])


def test_a_tampered_part_fails_verification_and_its_restore_writes_nothing(
    api: httpx.Client, host: Devhost
) -> None:
    run_id = wait_run(api, start_run(api, "calculator", ["4+4"])["runId"])["id"]
    backup_id = _back_up(api)
    part = _part(host, backup_id, "items")
    damaged = bytearray(part.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    part.write_bytes(bytes(damaged))

    verified = api.post(f"/api/backups/{backup_id}/verify")
    assert verified.status_code == 200
    report = verified.json()
    assert report["ok"] is False and any(part.name in p for p in report["problems"])

    _forget_runs(host, run_id)
    before = {table: _rows(host, table) for table in ("runs", "items", "threads", "usage")}
    failed = _restore(api, backup_id, dry_run=False)
    assert failed["status"] == "failed" and failed["counts"] is None
    assert failed["problems"] == report["problems"]
    assert {table: _rows(host, table) for table in before} == before
    assert api.get(f"/api/runs/{run_id}").status_code == 404


def test_a_second_restore_of_a_backup_under_restore_is_refused(
    api: httpx.Client, host: Devhost
) -> None:
    backup_id = _back_up(api)
    # Hold the store's write lock: the restore verifies, then waits to write, and stays running.
    with _db(host) as connection:
        connection.execute("BEGIN IMMEDIATE")
        try:
            first = api.post(f"/api/backups/{backup_id}/restore", json={"dry_run": False})
            assert first.status_code == 202, first.text
            second = api.post(f"/api/backups/{backup_id}/restore", json={"dry_run": True})
            assert second.status_code == 409, second.text
            assert second.json()["type"].endswith("/restore-under-way")
            assert api.get(first.headers["location"]).json()["status"] == "running"
        finally:
            connection.execute("ROLLBACK")
    assert _wait_restore(api, first.headers["location"])["status"] == "completed"
    assert api.post(f"/api/backups/{backup_id}/restore", json={"dry_run": True}).status_code == 202


def test_pages_of_backups_newest_first(api: httpx.Client) -> None:
    _back_up(api)
    _back_up(api)
    everything = api.get("/api/backups", params={"limit": 100}).json()
    ids = [b["id"] for b in everything["backups"]]
    assert len(ids) >= 2 and everything["continuation"] is None
    assert [b["createdAt"] for b in everything["backups"]] == sorted(
        (b["createdAt"] for b in everything["backups"]), reverse=True
    )
    paged: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        page = api.get("/api/backups", params=params).json()
        paged += [b["id"] for b in page["backups"]]
        if page["continuation"] is None:
            break
        assert page["next"].endswith(f"continuation={page['continuation']}")
        params["continuation"] = page["continuation"]
    assert paged == ids


ROUTES = [
    ("GET", "/api/backups", None),
    ("POST", "/api/backups", None),
    ("GET", "/api/backups/backup-20260101T000000", None),
    ("POST", "/api/backups/backup-20260101T000000/verify", None),
    ("POST", "/api/backups/backup-20260101T000000/restore", {"dry_run": True}),
    ("GET", f"/api/backups/backup-20260101T000000/restores/{'a' * 32}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_only_admins_may_use_the_backup_routes(
    api: httpx.Client, host: Devhost, method: str, path: str, body: Any
) -> None:
    before = sorted(p.name for p in (Path(host.env["BLOB_ROOT"]) / "backups").glob("*"))
    refused = api.request(method, path, json=body, headers=NOT_ADMIN)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    anonymous = httpx.request(
        method, host.url(path), json=body, headers=host.function_headers, timeout=10
    )
    assert anonymous.status_code == 401, anonymous.text
    assert sorted(p.name for p in (Path(host.env["BLOB_ROOT"]) / "backups").glob("*")) == before


@pytest.mark.parametrize(
    "backup_id",
    [
        "..",
        "backup-..",
        "backup-" + "a" * 65,
        "backup-a.b",
        "backup-a_b",
        "run-1",
        "backup-%2e%2e",
        "backup-a%0a",
        "backup-%2fetc",
    ],
)
def test_bad_backup_ids_are_400_before_any_use(api: httpx.Client, backup_id: str) -> None:
    for method, path, body in ROUTES[2:5]:
        response = api.request(method, path.replace("backup-20260101T000000", backup_id), json=body)
        assert response.status_code in (400, 404), (path, response.text)
        if response.status_code == 404:  # the host found no route for the path at all
            assert "backup_id" not in response.text
        else:
            assert response.json()["errors"][0]["field"] == "backup_id"
        assert backup_id not in response.text


@pytest.mark.parametrize(
    ("restore_id", "status"), [("a" * 31, 400), ("A" * 32, 400), ("a" * 33, 400), ("a" * 32, 404)]
)
def test_restore_ids_are_checked_then_looked_up(
    api: httpx.Client, restore_id: str, status: int
) -> None:
    response = api.get(f"/api/backups/backup-20260101T000000/restores/{restore_id}")
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"dry_run": "true"}, 400),
        ({"dry_run": 1}, 400),
        ({"dry_run": True, "tenant": ""}, 400),
        ({"dry_run": True, "tenant": "a/b"}, 400),
        ({"dry_run": True, "tenant": "x" * 256}, 400),
        ({"dry_run": True, "tenant": 5}, 400),
        ({"dry_run": True, "force": True}, 400),
        ([], 400),
        ({"dry_run": True, "tenant": "y" * 100_000}, 413),
    ],
)
def test_bad_restore_bodies_are_refused(
    api: httpx.Client, host: Devhost, body: Any, status: int
) -> None:
    backup_id = _latest(api)
    before = _rows(host, "runs")
    response = api.post(f"/api/backups/{backup_id}/restore", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert _rows(host, "runs") == before


def test_malformed_json_is_400(api: httpx.Client) -> None:
    response = api.post(
        f"/api/backups/{_latest(api)}/restore",
        content=b'{"dry_run": true, "dry_run": false}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["type"].endswith("/invalid-json")


def test_unknown_backups_are_404(api: httpx.Client) -> None:
    unknown = "backup-19990101T000000"
    assert api.get(f"/api/backups/{unknown}").status_code == 404
    assert api.post(f"/api/backups/{unknown}/verify").status_code == 404
    response = api.post(f"/api/backups/{unknown}/restore", json={"dry_run": True})
    assert response.status_code == 404
    assert response.json()["type"].endswith("/unknown-backup") and unknown not in response.text


def _latest(api: httpx.Client) -> str:
    listed = api.get("/api/backups", params={"limit": 1}).json()["backups"]
    return listed[0]["id"] if listed else _back_up(api)


def test_every_backup_call_is_in_the_audit_trail(api: httpx.Client, host: Devhost) -> None:
    backup_id = _back_up(api)
    _restore(api, backup_id, dry_run=True)
    api.post(f"/api/backups/{backup_id}/restore", json={})
    calls = {
        "verify": api.post(f"/api/backups/{backup_id}/verify", headers=_traced()),
        "list": api.get("/api/backups", params={"limit": 1}, headers=_traced()),
        "refused": api.get("/api/backups", headers={**NOT_ADMIN, **_traced()}),
        "unknown": api.get("/api/backups/backup-19990101T000000", headers=_traced()),
    }
    ids = {name: response.request.headers["x-ms-request-id"] for name, response in calls.items()}
    deadline = time.monotonic() + 10
    while True:
        with _db(host) as connection:
            entries = [json.loads(row[0]) for row in connection.execute("SELECT doc FROM audit")]
        found = {e["details"]["request_id"]: e for e in entries}
        if set(ids.values()) <= set(found) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    entry = {name: found[request_id] for name, request_id in ids.items()}
    assert entry["verify"]["action"] == "backup.verify" and entry["verify"]["outcome"] == "allowed"
    assert entry["verify"]["resource"] == f"backups/{backup_id}"
    assert entry["verify"]["principal"] == "operator" and entry["verify"]["details"]["ok"] is True
    assert entry["list"]["action"] == "backup.list" and entry["list"]["details"]["records"] == 1
    assert entry["refused"]["outcome"] == "refused" and entry["refused"]["principal"] == "someone"
    assert entry["refused"]["details"]["status"] == 403
    # An id the route did not find is recorded as its hash.
    assert entry["unknown"]["action"] == "backup.read"
    assert entry["unknown"]["resource"] == f"backups/{unverified_id('backup-19990101T000000')}"
    actions = {(e["action"], e["outcome"]) for e in entries if e["action"].startswith("backup.")}
    assert {
        ("backup.create", "allowed"),
        ("backup.read", "allowed"),
        ("backup.restore", "allowed"),
        ("backup.restore", "refused"),
    } <= actions


def _traced() -> dict[str, str]:
    return {"x-ms-request-id": uuid.uuid4().hex}


def test_a_backup_whose_orchestration_failed_is_failed_not_unknown(
    api: httpx.Client, host: Devhost
) -> None:
    backup_id = "backup-broken1"
    started = httpx.post(
        host.url(f"/runtime/webhooks/durabletask/orchestrators/store_backup/{backup_id}"),
        headers=host.master_headers,
        json={"backup_id": "not a backup id"},  # the orchestrator refuses its input
        timeout=10,
    )
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 30
    while (view := api.get(f"/api/backups/{backup_id}").json())["status"] == "running":
        assert time.monotonic() < deadline, view
        time.sleep(0.1)
    assert view == {"id": backup_id, "status": "failed"}
    assert api.post(f"/api/backups/{backup_id}/verify").status_code == 404
    assert backup_id not in [b["id"] for b in api.get("/api/backups").json()["backups"]]


def test_restores_replay_to_the_same_actions_and_outcome(api: httpx.Client, host: Devhost) -> None:
    _restore(api, _latest(api), dry_run=True)
    database = Path(host.env["BLOB_ROOT"]).parent / "devhost" / "durable.sqlite3"
    with sqlite3.connect(database) as connection:
        instances = [
            row[0]
            for row in connection.execute(
                "SELECT instance_id FROM instances WHERE hub = ? AND name = 'store_restore'",
                (HUB,),
            )
        ]
    outcomes = set()
    for instance_id in instances:
        found, outcome = replay(database, HUB, instance_id, "store_restore")
        if found.status == "Completed":
            assert outcome.done and json.loads(outcome.output) == json.loads(found.output_text)
        else:
            assert found.status == "Failed" and outcome.error
            assert "was not restored" in outcome.error
            assert json.loads(outcome.custom_status)["problems"]
        outcomes.add(found.status)
    assert outcomes == {"Completed", "Failed"}  # the tampered backup's restore failed


def test_a_damaged_manifest_is_a_result_to_verify_and_refused_elsewhere(
    api: httpx.Client, host: Devhost
) -> None:
    backup_id = _back_up(api)
    manifest = Path(host.env["BLOB_ROOT"]) / "backups" / backup_id / "manifest.json"
    original = manifest.read_bytes()
    header = original.split(b"\n", 1)[0]  # the local blob adapter's metadata line
    manifest.write_bytes(header + b'\n{"backup_id": "' + backup_id.encode() + b'", "parts": 7}')
    try:
        verified = api.post(f"/api/backups/{backup_id}/verify")
        assert verified.status_code == 200, verified.text
        assert verified.json()["ok"] is False and verified.json()["problems"]
        for response in (
            api.get(f"/api/backups/{backup_id}"),
            api.post(f"/api/backups/{backup_id}/restore", json={"dry_run": True}),
        ):
            assert response.status_code == 422, response.text
            assert response.json()["type"].endswith("/backup-unreadable")
        # The list leaves the damaged backup out rather than failing for every other one.
        listed = api.get("/api/backups", params={"limit": 100})
        assert listed.status_code == 200, listed.text
        ids = [b["id"] for b in listed.json()["backups"]]
        assert backup_id not in ids and ids
    finally:
        manifest.write_bytes(original)
    assert api.get(f"/api/backups/{backup_id}").json()["status"] == "completed"
