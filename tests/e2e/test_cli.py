"""The command-line client against a running host, as a user runs it: a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.testing import Devhost, free_port, start_devhost
from tests.e2e.conftest import PROJECT_ROOT, app_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devhost]:
    """Without App Service Authentication: the function key's holder is the local operator."""
    env = app_env(tmp_path_factory.mktemp("cli"), WEBSITE_AUTH_ENABLED="false")
    with start_devhost(
        PROJECT_ROOT, env=env, simulator=True, simulator_setting="MODEL_ENDPOINT"
    ) as host:
        yield host


def _cli(*args: str, url: str, key: str | None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "agentops", "--url", url]
    if key is not None:
        command += ["--key", key]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT
    )


def test_run_writes_results_and_status_and_results_read_them(
    app_host: Devhost, tmp_path: Path
) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        '"add 2 and 3"\n{"query": "multiply 6 and 7"}\n\n"divide 10 by 4"\n', encoding="utf-8"
    )
    output = tmp_path / "results.jsonl"
    done = _cli(
        "run",
        "calculator",
        "--file",
        str(queries),
        "--output",
        str(output),
        url=app_host.base_url,
        key=app_host.function_key,
    )
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["index"] for r in results] == [0, 1, 2]
    assert "returned 5" in results[0]["answer"] and "returned 42" in results[1]["answer"]
    assert "3 completed, 0 failed" in done.stderr
    run_id = done.stderr.split()[1].rstrip(":")

    status = _cli("status", run_id, url=app_host.base_url, key=app_host.function_key)
    assert status.returncode == 0
    assert json.loads(status.stdout)["counts"]["completed"] == 3

    again = _cli("results", run_id, url=app_host.base_url, key=app_host.function_key)
    assert [json.loads(line) for line in again.stdout.splitlines()] == results


def test_errors_say_what_to_fix(app_host: Devhost, tmp_path: Path) -> None:
    missing = _cli(
        "run",
        "calculator",
        "--file",
        str(tmp_path / "nope.jsonl"),
        url=app_host.base_url,
        key=app_host.function_key,
    )
    assert missing.returncode == 2 and "no such file" in missing.stderr

    bad = tmp_path / "bad.jsonl"
    bad.write_text('"ok"\n{"q": 1}\n', encoding="utf-8")
    malformed = _cli(
        "run", "calculator", "--file", str(bad), url=app_host.base_url, key=app_host.function_key
    )
    assert malformed.returncode == 2 and "bad.jsonl:2" in malformed.stderr

    good = tmp_path / "good.jsonl"
    good.write_text('"add 1 and 1"\n', encoding="utf-8")
    no_key = _cli("run", "calculator", "--file", str(good), url=app_host.base_url, key=None)
    assert no_key.returncode == 2 and "key" in no_key.stderr

    unknown = _cli(
        "run", "nobody", "--file", str(good), url=app_host.base_url, key=app_host.function_key
    )
    assert unknown.returncode == 2 and "unknown agent" in unknown.stderr.lower()

    closed = f"http://127.0.0.1:{free_port()}"
    unreachable = _cli("status", "abc", url=closed, key="k")
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr
