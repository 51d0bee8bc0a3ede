"""Backup and restore figures: wall time and peak memory of the worker, at two sizes.

    .venv/bin/python bench/backup_restore.py                  # 10,000 and 100,000 items
    .venv/bin/python bench/backup_restore.py --sizes 10000

Items of about 1 KB in a SQLite store, backed up to a local blob folder (a full backup, then,
after 1% more items, an incremental one) and the chain restored into an empty store. The full
backup waits out the incremental's safety margin (a minute) after the fill, or the incremental
would also hold every item the fill wrote within the minute before the full backup began. Each
phase runs in a fresh process, so its peak RSS (`ru_maxrss`) is its own; the table shows that
peak and its growth over the process's RSS before the phase began (imports and an open store).
Memory should stay flat as items grow tenfold.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr

from agentops.backup import BackupKeys, BackupService
from agentops.backup.periods import manual_backup_work
from agentops.backup.planning import SINCE_MARGIN
from agentops.blobs.local import LocalBlobStore
from agentops.store import ItemOutcome, Run, Usage
from agentops.store.sqlite import SqliteStore

PER_RUN = 1000


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _fill(path: Path, items: int) -> None:
    async with SqliteStore(path) as store:
        for n in range(items // PER_RUN):
            run_id = f"run-{n:05d}"
            now = datetime.now(UTC)
            await store.create_run(
                Run(run_id, f"tenant-{n % 10}", "bench", "calc", PER_RUN, created_at=now)
            )
            # ~1 KB per item: a 500-byte query and a 500-byte answer.
            await store.add_items(run_id, [f"{n}-{i} " + "q" * 500 for i in range(PER_RUN)])
            for i in range(PER_RUN):
                outcome = ItemOutcome.completed(
                    "a" * 500, usage=Usage(100, 50), cost=0.001, model="bench"
                )
                await store.complete_item(run_id, i, outcome)


async def _change(path: Path, items: int) -> None:
    """1% more items, in a run of their own: what the incremental backup holds."""
    async with SqliteStore(path) as store:
        now = datetime.now(UTC)
        await store.create_run(Run("run-new", "tenant-0", "bench", "calc", items, created_at=now))
        await store.add_items("run-new", [f"new-{i} " + "q" * 500 for i in range(items)])


async def _phase(phase: str, work: Path, key: str) -> dict[str, float]:
    keys = BackupKeys.from_secret(SecretStr(key))
    blobs = LocalBlobStore(work / "blobs")
    db = work / ("target.db" if phase == "restore" else "source.db")
    async with SqliteStore(db) as store:
        backups = BackupService(store, blobs, keys)
        before = _rss_kib()
        started = time.perf_counter()
        if phase in ("backup", "incremental"):
            now = datetime.now(UTC)
            manifest = await backups.create(manual_backup_work(now), now=now)
            assert manifest.kind == ("full" if phase == "backup" else "incremental")
            (work / "backup_id").write_text(manifest.backup_id)
            items = manifest.counts()["items"]
        else:
            report = await backups.restore((work / "backup_id").read_text())
            items = report.counts["items"]
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "items": items,
        "rss_before_mib": before / 1024,
        "rss_peak_mib": peak / 1024,
    }


def _run_phase(phase: str, work: Path, key: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--work", str(work)],
        env={**os.environ, "BENCH_BACKUP_KEY": key},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--phase", choices=["backup", "incremental", "restore"])
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.phase:
        result = asyncio.run(_phase(args.phase, args.work, os.environ["BENCH_BACKUP_KEY"]))
        print(json.dumps(result))
        return
    key = json.dumps({"active": "b", "keys": {"b": base64.b64encode(os.urandom(32)).decode()}})
    print("| items | phase | wall s | items/s | RSS before MiB | peak RSS MiB | growth MiB |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            asyncio.run(_fill(work / "source.db", size))
            for phase in ("backup", "incremental", "restore"):
                if phase == "backup":
                    time.sleep(SINCE_MARGIN.total_seconds() + 1)
                if phase == "incremental":
                    asyncio.run(_change(work / "source.db", size // 100))
                r = _run_phase(phase, work, key)
                growth = r["rss_peak_mib"] - r["rss_before_mib"]
                count = int(r["items"])
                print(
                    f"| {count:,} | {phase} | {r['seconds']:.2f} | {count / r['seconds']:,.0f} "
                    f"| {r['rss_before_mib']:.0f} | {r['rss_peak_mib']:.0f} | {growth:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
