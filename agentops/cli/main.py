"""Command-line client: submit a batch of queries, follow its progress, fetch the results.

    python -m agentops run calculator --file queries.jsonl --output results.jsonl
    python -m agentops status RUN_ID
    python -m agentops results RUN_ID --output results.jsonl
    python -m agentops reencrypt
    python -m agentops audit verify [--tenant T ...]
    python -m agentops backup list|create|verify ID|restore ID [--dry-run] [--tenant T]
    python -m agentops backup prune [--dry-run]
    python -m agentops report create cost|compliance [--day YYYY-MM-DD]
    python -m agentops report list [--kind cost|compliance]
    python -m agentops report show ID [--html FILE]

The host and key come from --url/--key or AGENTOPS_URL/AGENTOPS_KEY (a function key).
`reencrypt`, `audit verify`, `backup` and `report` work on the store (and blob store) themselves,
configured by the app settings in the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import httpx
from tqdm import tqdm

if TYPE_CHECKING:  # the store and its settings load only for the commands that use them
    from collections.abc import Awaitable, Callable
    from datetime import date

    from agentops.audit import ChainCheck
    from agentops.backup import BackupService
    from agentops.encryption import KeyRing
    from agentops.encryption.reencrypt import ReencryptReport
    from agentops.reports.service import ReportService
    from agentops.settings import Settings

DEFAULT_URL = "http://127.0.0.1:7071"
TERMINAL = {"completed", "failed", "canceled", "stopped"}


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.on_store:
            return args.handler(args)
        with _client(args) as client:
            return args.handler(client, args)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agentops", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("AGENTOPS_URL", DEFAULT_URL),
        help="host base URL (default %(default)s)",
    )
    parser.add_argument(
        "--key",
        default=os.environ.get("AGENTOPS_KEY"),
        help="function key (default: $AGENTOPS_KEY)",
    )
    parser.set_defaults(on_store=False)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="submit queries to an agent and wait for the results")
    run.add_argument("agent")
    run.add_argument(
        "--file",
        required=True,
        type=Path,
        help='JSONL: one query per line, a JSON string or {"query": "..."}',
    )
    run.add_argument("--output", type=Path, help="write results as JSONL here (default stdout)")
    run.add_argument("--batch-size", type=int)
    run.add_argument("--max-in-flight", type=int)
    run.add_argument(
        "--mode",
        choices=("interactive", "batch"),
        help="batch: the provider's Batch API at its batch price (the agent must allow it)",
    )
    run.add_argument(
        "--fallback",
        action="store_true",
        default=None,
        help="batch mode: answer items the Batch API failed through the interactive path",
    )
    run.add_argument("--no-wait", action="store_true", help="print the run id and return")
    run.add_argument("--poll", type=float, default=0.5, help="seconds between status checks")
    run.set_defaults(handler=_run)

    status = commands.add_parser("status", help="show a run's status and counts")
    status.add_argument("run_id")
    status.set_defaults(handler=_status)

    results = commands.add_parser("results", help="write a run's item results as JSONL")
    results.add_argument("run_id")
    results.add_argument("--output", type=Path, help="default stdout")
    results.set_defaults(handler=_results)

    reencrypt = commands.add_parser(
        "reencrypt",
        help="move sensitive agents' stored texts to the active key of DATA_ENCRYPTION_KEYS",
    )
    reencrypt.set_defaults(handler=_reencrypt, on_store=True)

    audit = commands.add_parser("audit", help="check the audit trail")
    audit_commands = audit.add_subparsers(required=True, metavar="ACTION")
    verify = audit_commands.add_parser(
        "verify",
        help="walk each tenant's hash chain; exit 1 naming the first changed or removed entry",
    )
    verify.add_argument(
        "--tenant",
        action="append",
        help="a tenant to check (repeatable; default: every tenant with an audit trail)",
    )
    verify.set_defaults(handler=_audit_verify, on_store=True)

    backup = commands.add_parser("backup", help="encrypted backups of the store, and restores")
    backup_commands = backup.add_subparsers(required=True, metavar="ACTION")
    listing = backup_commands.add_parser("list", help="complete backups, newest first")
    listing.set_defaults(handler=_backup_list, on_store=True)
    create = backup_commands.add_parser(
        "create", help="back up now: full, or incremental as BACKUP_FULL_EVERY says"
    )
    create.set_defaults(handler=_backup_create, on_store=True)
    check = backup_commands.add_parser(
        "verify", help="read every part: checksums, decryption, counts; exit 1 naming faults"
    )
    check.add_argument("backup_id")
    check.set_defaults(handler=_backup_verify, on_store=True)
    restore = backup_commands.add_parser(
        "restore", help="verify, then upsert the backup's documents into the store"
    )
    restore.add_argument("backup_id")
    restore.add_argument("--dry-run", action="store_true", help="count, write nothing")
    restore.add_argument("--tenant", help="restore only this tenant's documents")
    restore.set_defaults(handler=_backup_restore, on_store=True)
    prune = backup_commands.add_parser(
        "prune", help="delete backups older than BACKUP_RETENTION_DAYS that none kept needs"
    )
    prune.add_argument("--dry-run", action="store_true", help="list them, delete nothing")
    prune.set_defaults(handler=_backup_prune, on_store=True)

    report = commands.add_parser("report", help="daily cost and compliance reports")
    report_commands = report.add_subparsers(required=True, metavar="ACTION")
    make = report_commands.add_parser(
        "create", help="build and store a day's report (kept if it already exists)"
    )
    make.add_argument("kind", choices=("cost", "compliance"))
    make.add_argument(
        "--day", type=_utc_day, help="the UTC day, YYYY-MM-DD (default: yesterday, UTC)"
    )
    make.set_defaults(handler=_report_create, on_store=True)
    reports = report_commands.add_parser("list", help="stored reports, newest first, as JSONL")
    reports.add_argument("--kind", choices=("cost", "compliance"))
    reports.set_defaults(handler=_report_list, on_store=True)
    show = report_commands.add_parser("show", help="print a report's JSON")
    show.add_argument("report_id", help="a report id, such as cost-20261201")
    show.add_argument("--html", type=Path, metavar="FILE", help="also write its HTML page here")
    show.set_defaults(handler=_report_show, on_store=True)
    return parser


def _client(args: argparse.Namespace) -> httpx.Client:
    headers = {"x-functions-key": args.key} if args.key else {}
    return httpx.Client(base_url=args.url.rstrip("/"), headers=headers, timeout=60)


# Waiting out the host's per-caller request rate; a longer wait (a spent budget) is an error.
_MAX_RATE_WAIT_S = 60


def _request(client: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    while True:
        try:
            response = client.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise CliError(
                f"cannot reach {client.base_url}: {error}. Is the host running? "
                "Start it with: scripts/run-local.sh"
            ) from error
        wait = _rate_wait(response)
        if wait is None:
            break
        time.sleep(wait)
    if response.status_code >= 400:
        raise CliError(_describe_problem(response))
    return response.json()


def _rate_wait(response: httpx.Response) -> float | None:
    """Seconds to wait before asking again, when the host only asks us to slow down."""
    retry_after = response.headers.get("retry-after", "")
    if response.status_code != 429 or not retry_after.isdigit():
        return None
    try:
        kind = str(response.json().get("type", ""))
    except ValueError:
        return None
    wait = int(retry_after)
    return wait if kind.endswith("/too-many-requests") and wait <= _MAX_RATE_WAIT_S else None


def _describe_problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if response.status_code == 401:
        return "the host refused the key: pass --key or set AGENTOPS_KEY to a function key"
    return f"HTTP {response.status_code} {body.get('title', '')}: {body.get('detail', body)}"


def _read_queries(path: Path) -> list[str]:
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    queries: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise CliError(f"{path}:{number}: not JSON ({error.msg})") from error
        if isinstance(value, dict) and isinstance(value.get("query"), str):
            value = value["query"]
        if not isinstance(value, str):
            raise CliError(f'{path}:{number}: expected a JSON string or {{"query": "..."}}')
        queries.append(value)
    if not queries:
        raise CliError(f"{path}: no queries")
    return queries


def _run(client: httpx.Client, args: argparse.Namespace) -> int:
    queries = _read_queries(args.file)
    options = {
        key: value
        for key, value in (
            ("batch_size", args.batch_size),
            ("max_in_flight", args.max_in_flight),
            ("mode", args.mode),
            ("fallback", args.fallback),
        )
        if value is not None
    }
    started = _request(
        client,
        "POST",
        f"/api/agents/{args.agent}/runs",
        json={"queries": queries, "options": options},
    )
    run_id = started["runId"]
    print(f"run {run_id}: {len(queries)} queries for {args.agent}", file=sys.stderr)
    if args.no_wait:
        print(run_id)
        return 0
    view = _wait(client, run_id, len(queries), args.poll)
    with _output(args.output) as out:
        written = _write_results(client, run_id, out)
    counts = view["counts"]
    print(
        f"run {run_id} {view['status']}: {counts['completed']} completed, "
        f"{counts['failed']} failed, {counts['pending']} pending; "
        f"{view['usage']['totalTokens']} tokens, cost {view['cost']}; {written} results written",
        file=sys.stderr,
    )
    return 0 if view["status"] == "completed" else 1


def _wait(client: httpx.Client, run_id: str, total: int, poll: float) -> dict[str, Any]:
    with tqdm(total=total, unit="query", file=sys.stderr, dynamic_ncols=True) as bar:
        while True:
            view = _request(client, "GET", f"/api/runs/{run_id}", params={"limit": 1})
            counts = view["counts"]
            bar.n = counts["completed"] + counts["failed"]
            bar.set_postfix(failed=counts["failed"], status=view["status"], refresh=False)
            bar.refresh()
            if view["status"] in TERMINAL:
                return view
            time.sleep(poll)


def _pages(client: httpx.Client, run_id: str) -> Iterator[dict[str, Any]]:
    continuation: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if continuation:
            params["continuation"] = continuation
        view = _request(client, "GET", f"/api/runs/{run_id}", params=params)
        yield from view["items"]
        continuation = view.get("continuation")
        if not continuation:
            return


def _write_results(client: httpx.Client, run_id: str, out: TextIO) -> int:
    written = 0
    for item in _pages(client, run_id):
        out.write(json.dumps(item, ensure_ascii=False) + "\n")
        written += 1
    return written


class _output:
    """stdout, or a file written whole or not at all."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._file: TextIO | None = None

    def __enter__(self) -> TextIO:
        if self._path is None:
            return sys.stdout
        self._partial = self._path.with_name(self._path.name + ".partial")
        self._file = self._partial.open("w", encoding="utf-8")
        return self._file

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if self._file is None or self._path is None:
            return
        self._file.close()
        if kind is None:
            self._partial.replace(self._path)
        else:
            self._partial.unlink(missing_ok=True)


def _status(client: httpx.Client, args: argparse.Namespace) -> int:
    view = _request(client, "GET", f"/api/runs/{args.run_id}", params={"limit": 1})
    view.pop("items", None)
    view.pop("continuation", None)
    print(json.dumps(view, indent=2))
    return 0


def _results(client: httpx.Client, args: argparse.Namespace) -> int:
    with _output(args.output) as out:
        written = _write_results(client, args.run_id, out)
    print(f"{written} results written", file=sys.stderr)
    return 0


def _reencrypt(args: argparse.Namespace) -> int:
    from agentops.bootstrap import key_ring
    from agentops.settings import get_settings

    settings = get_settings()
    try:
        ring = key_ring(settings)
    except ValueError as error:
        raise CliError(str(error)) from None
    if ring is None:
        raise CliError("DATA_ENCRYPTION_KEYS is not set: there is no key to re-encrypt with")
    report = asyncio.run(_reencrypt_store(settings, ring))
    print(json.dumps(report.as_dict()))
    if report.failed:
        print(f"{report.failed} texts were not re-encrypted; see the log", file=sys.stderr)
    return 1 if report.failed else 0


async def _reencrypt_store(settings: Settings, ring: KeyRing) -> ReencryptReport:
    from agentops.bootstrap import load_registry, open_store
    from agentops.encryption import RecordSealer
    from agentops.encryption.reencrypt import Reencryption

    registry = load_registry(settings.resolve(settings.agents_file))
    sensitive = [agent.name for agent in registry.list() if agent.sensitive]
    async with open_store(settings) as store:
        return await Reencryption(store, RecordSealer(ring), sensitive_agents=sensitive).run()


def _audit_verify(args: argparse.Namespace) -> int:
    from agentops.settings import get_settings

    checks = asyncio.run(_verify_chains(get_settings(), args.tenant))
    if not checks:
        print("no audit trail in this store", file=sys.stderr)
    for check in checks:
        print(check.describe())
    return 0 if all(check.ok for check in checks) else 1


async def _verify_chains(settings: Settings, tenants: list[str] | None) -> list[ChainCheck]:
    from agentops.audit import AuditTrail, audit_tenants
    from agentops.bootstrap import open_store

    async with open_store(settings) as store:
        if not tenants:
            tenants = await audit_tenants(store.iter_collection("audit"))
        trail = AuditTrail(store)
        return [await trail.verify(tenant) for tenant in tenants]


def _backup_list(args: argparse.Namespace) -> int:
    async def action(backups: BackupService) -> int:
        for manifest in await backups.list():
            summary = {
                "backup_id": manifest.backup_id,
                "kind": manifest.kind,
                "base": manifest.base,
                "created_at": manifest.created_at.isoformat(),
                "counts": manifest.counts(),
            }
            print(json.dumps(summary))
        return 0

    return _on_backups(action)


def _backup_create(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from agentops.backup.periods import manual_backup_work

    async def action(backups: BackupService) -> int:
        now = datetime.now(UTC)
        manifest = await backups.create(manual_backup_work(now), now=now)
        summary = {
            "backup_id": manifest.backup_id,
            "kind": manifest.kind,
            "base": manifest.base,
            "counts": manifest.counts(),
        }
        print(json.dumps(summary))
        return 0

    return _on_backups(action)


def _backup_verify(args: argparse.Namespace) -> int:
    async def action(backups: BackupService) -> int:
        report = await backups.verify(args.backup_id)
        for problem in report.problems:
            print(f"problem: {problem}", file=sys.stderr)
        summary = {
            "backup_id": report.backup_id,
            "ok": report.ok,
            "chain": list(report.chain),
            "counts": report.counts,
        }
        print(json.dumps(summary))
        return 0 if report.ok else 1

    return _on_backups(action)


def _backup_restore(args: argparse.Namespace) -> int:
    from agentops.backup import BackupInvalidError

    async def action(backups: BackupService) -> int:
        try:
            report = await backups.restore(args.backup_id, tenant=args.tenant, dry_run=args.dry_run)
        except BackupInvalidError as error:
            for problem in error.problems:
                print(f"problem: {problem}", file=sys.stderr)
            print("nothing was restored", file=sys.stderr)
            return 1
        summary = {
            "backup_id": report.backup_id,
            "dry_run": report.dry_run,
            "tenant": report.tenant,
            "chain": list(report.chain),
            "counts": report.counts,
        }
        print(json.dumps(summary))
        return 0

    return _on_backups(action)


def _backup_prune(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    async def action(backups: BackupService) -> int:
        report = await backups.prune(now=datetime.now(UTC), dry_run=args.dry_run)
        summary = {
            "dry_run": report.dry_run,
            "deleted": report.deleted,
            "incomplete": report.incomplete,
            "kept": report.kept,
        }
        print(json.dumps(summary))
        return 0

    return _on_backups(action)


def _on_backups(action: Callable[[BackupService], Awaitable[int]]) -> int:
    from agentops.backup import BackupNotFoundError

    try:
        return asyncio.run(_with_backups(action))
    except (BackupNotFoundError, ValueError) as error:
        raise CliError(str(error)) from None


async def _with_backups(action: Callable[[BackupService], Awaitable[int]]) -> int:
    """The same backup service the activities use, on the stores the app settings name."""
    from agentops.backup import BackupKeys
    from agentops.bootstrap import backup_service, open_blobs, open_secrets, open_store
    from agentops.settings import get_settings

    settings = get_settings()
    secrets = open_secrets(settings)
    try:
        keys = BackupKeys.from_secret(await secrets.get("BACKUP_ENCRYPTION_KEY"))
        cosmos_key = await secrets.get("COSMOS_KEY") if settings.store == "cosmos" else None
        async with open_store(settings, cosmos_key) as store, open_blobs(settings) as blobs:
            return await action(backup_service(settings, store, blobs, keys))
    finally:
        await secrets.aclose()


def _utc_day(value: str) -> date:
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a day; use YYYY-MM-DD") from None


def _report_create(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from agentops.reports.periods import ReportWork

    day = args.day or datetime.now(UTC).date() - timedelta(days=1)

    async def action(reports: ReportService) -> int:
        record = await reports.build(ReportWork(kind=args.kind, day=day))
        print(json.dumps({"report_id": record.id, "headline": record.headline}))
        return 0

    return _on_reports(action)


def _report_list(args: argparse.Namespace) -> int:
    async def action(reports: ReportService) -> int:
        after = None
        while True:
            page = await reports.list(args.kind, limit=100, after=after)
            for record in page.items:
                summary = {
                    "report_id": record.id,
                    "kind": record.kind,
                    "period_start": record.period_start.isoformat(),
                    "created_at": record.created_at.isoformat(),
                    "headline": record.headline,
                }
                print(json.dumps(summary))
            after = page.continuation
            if after is None:
                return 0

    return _on_reports(action)


def _report_show(args: argparse.Namespace) -> int:
    from agentops.reports.periods import is_report_id

    if not is_report_id(args.report_id):
        raise CliError(f"{args.report_id!r} is not a report id (such as cost-20261201)")

    async def action(reports: ReportService) -> int:
        record = await reports.get(args.report_id)
        if record is None:
            raise CliError(f"no report {args.report_id}; see: python -m agentops report list")
        print((await reports.content(record, "json")).decode())
        if args.html is not None:
            args.html.write_bytes(await reports.content(record, "html"))
            print(f"wrote {args.html}", file=sys.stderr)
        return 0

    return _on_reports(action)


def _on_reports(action: Callable[[ReportService], Awaitable[int]]) -> int:
    from agentops.blobs import BlobNotFoundError

    try:
        return asyncio.run(_with_reports(action))
    except (BlobNotFoundError, ValueError) as error:
        raise CliError(str(error)) from None


async def _with_reports(action: Callable[[ReportService], Awaitable[int]]) -> int:
    """The same report service the activities use, on the stores the app settings name."""
    from agentops.bootstrap import (
        load_registry,
        open_blobs,
        open_secrets,
        open_store,
        price_book,
        report_plan,
    )
    from agentops.reports.service import ReportService
    from agentops.settings import get_settings

    settings = get_settings()
    secrets = open_secrets(settings)
    try:
        cosmos_key = await secrets.get("COSMOS_KEY") if settings.store == "cosmos" else None
        async with open_store(settings, cosmos_key) as store, open_blobs(settings) as blobs:
            reports = ReportService(
                store,
                blobs,
                load_registry(settings.resolve(settings.agents_file)),
                prices=price_book(),
                plan=report_plan(settings),
            )
            return await action(reports)
    finally:
        await secrets.aclose()
