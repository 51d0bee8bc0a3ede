"""The timer body: start the period's orchestration once, whatever the firings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from agentops.backup import backup_work_for_hour
from triggers.schedules import start_once


@dataclass
class FakeClient:
    """Instances by id; `racer` starts the instance just before our start_new lands."""

    instances: dict[str, str] = field(default_factory=dict)
    starts: list[str] = field(default_factory=list)
    racer: bool = False
    broken: bool = False

    async def get_status(self, instance_id: str) -> Any:
        return SimpleNamespace(runtime_status=self.instances.get(instance_id))

    async def start_new(self, name: str, instance_id: str, payload: Any) -> str:
        if self.broken:
            raise RuntimeError("backend unavailable")
        if self.racer:
            self.instances[instance_id] = "Running"
        if instance_id in self.instances:
            raise RuntimeError("An instance with ID already exists")
        self.starts.append(instance_id)
        self.instances[instance_id] = "Pending"
        return instance_id


async def test_starts_once_per_id_in_any_state():
    client = FakeClient()
    assert await start_once(client, "store_backup", "backup-2026120216", {}) is True
    assert await start_once(client, "store_backup", "backup-2026120216", {}) is False
    client.instances["backup-2026120216"] = "Failed"  # a failed period is not rerun by a timer
    assert await start_once(client, "store_backup", "backup-2026120216", {}) is False
    assert client.starts == ["backup-2026120216"]


async def test_a_lost_race_is_not_an_error():
    client = FakeClient(racer=True)
    assert await start_once(client, "store_backup", "backup-2026120216", {}) is False


async def test_a_backend_failure_is_raised():
    with pytest.raises(RuntimeError, match="unavailable"):
        await start_once(FakeClient(broken=True), "store_backup", "backup-2026120216", {})


def test_the_id_names_the_hour_in_utc():
    from datetime import timedelta, timezone

    at = datetime(2026, 12, 2, 17, 59, 59, tzinfo=timezone(timedelta(hours=1)))
    work = backup_work_for_hour(at)
    assert work.backup_id == "backup-2026120216"
    assert work.period_start == datetime(2026, 12, 2, 16, tzinfo=UTC)
    assert backup_work_for_hour(datetime(2026, 12, 2, 16, 5, tzinfo=UTC)) == work
    with pytest.raises(ValueError, match="timezone"):
        backup_work_for_hour(datetime(2026, 12, 2, 16))
