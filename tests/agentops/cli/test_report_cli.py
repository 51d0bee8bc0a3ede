"""`python -m agentops report ...`: the report service the activities use, in one process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentops.cli.main import main
from agentops.settings import get_settings
from agentops.store import ItemOutcome, Run, Usage
from agentops.store.sqlite import SqliteStore

DAY = "2026-11-26"


@pytest.fixture
def app_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("AGENTOPS_STORE", "sqlite")
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "agentops.db"))
    monkeypatch.setenv("BLOB_STORE", "local")
    monkeypatch.setenv("BLOB_ROOT", str(tmp_path / "blobs"))
    monkeypatch.delenv("KEY_VAULT_URL", raising=False)
    get_settings.cache_clear()
    at = datetime(2026, 11, 26, 9, tzinfo=UTC)

    async def write() -> None:
        async with SqliteStore(tmp_path / "agentops.db", clock=lambda: at) as store:
            await store.create_run(Run("r1", "acme", "ada", "calculator", 1, at))
            await store.add_items("r1", ["1+1"])
            # calculator runs on gpt-4o-mini: (1000 * 0.15 + 100 * 0.60) / 1e6 = 0.00021
            outcome = ItemOutcome.completed("2", usage=Usage(1000, 100), model="gpt-4o-mini")
            await store.complete_item("r1", 0, outcome)

    asyncio.run(write())
    yield tmp_path
    get_settings.cache_clear()


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_create_list_show(app_settings: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "create", "cost", "--day", DAY]) == 0
    created = _json_lines(capsys.readouterr().out)[0]
    assert created["report_id"] == "cost-20261126"
    assert created["headline"]["items"] == 1
    assert main(["report", "create", "cost", "--day", DAY]) == 0  # again: the same report
    assert _json_lines(capsys.readouterr().out) == [created]
    assert main(["report", "create", "compliance", "--day", DAY]) == 0
    capsys.readouterr()

    assert main(["report", "list", "--kind", "cost"]) == 0
    assert [r["report_id"] for r in _json_lines(capsys.readouterr().out)] == ["cost-20261126"]
    assert main(["report", "list"]) == 0
    assert len(_json_lines(capsys.readouterr().out)) == 2

    page = app_settings / "cost.html"
    assert main(["report", "show", "cost-20261126", "--html", str(page)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["by_deployment"][0]["cost"] == pytest.approx(0.00021)
    assert page.read_text().lstrip().lower().startswith("<!doctype html")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "show", "../etc"], "not a report id"),
        (["report", "show", "cost-19990101"], "no report cost-19990101"),
        (["report", "create", "cost", "--day", "2999-01-01"], "has not ended"),
    ],
)
def test_bad_input_is_a_clear_error(
    app_settings: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_malformed_day_or_kind_is_refused_by_the_parser(
    app_settings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["report", "create", "cost", "--day", "26/11/2026"], ["report", "create", "x"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_the_default_day_is_yesterday(app_settings: Path, capsys) -> None:
    assert main(["report", "create", "compliance"]) == 0
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert _json_lines(capsys.readouterr().out)[0]["report_id"] == f"compliance-{yesterday:%Y%m%d}"
