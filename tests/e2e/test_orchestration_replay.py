"""agent_batch is pure: the history of a finished run, replayed through the Durable SDK's own
executor, gives the same actions and the same output, every time."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from devhost.durable.history import scheduled_ids, scheduled_signature
from devhost.durable.replay import run_episode
from devhost.durable.store import DurableStore
from devhost.testing import start_devhost
from tests.e2e.conftest import OPERATOR, PROJECT_ROOT, app_env, app_functions, start_run, wait_run

pytestmark = pytest.mark.slow
HUB = "replayhub"


def _agent_batch_handle():
    for function in app_functions():
        if function.get_function_name() == "agent_batch":
            return function.get_user_function()
    raise AssertionError("agent_batch is not registered")


def test_a_finished_run_replays_to_the_same_actions_and_output(tmp_path: Path) -> None:
    faults = {"rates": {"503": 0.3}}  # retries and durable timers in the history too
    env = app_env(
        tmp_path,
        TASKHUB_NAME=HUB,
        SIM_FAULTS=json.dumps(faults),
        INLINE_RETRY_MAX_WAIT_S="0",
        BATCH_SIZE="4",
        ITEM_CONCURRENCY="4",
        MAX_IN_FLIGHT="3",
    )
    data = tmp_path / "devhost"
    with (
        start_devhost(
            PROJECT_ROOT, env=env, simulator=True, simulator_setting="MODEL_ENDPOINT", data_dir=data
        ) as host,
        httpx.Client(
            base_url=host.base_url, headers={**host.function_headers, **OPERATOR}, timeout=30
        ) as api,
    ):
        run_id = start_run(api, "summarizer", [f"replay text {n}" for n in range(30)])["runId"]
        assert wait_run(api, run_id)["status"] == "completed"

    database = data / "durable.sqlite3"
    with sqlite3.connect(database) as connection:
        input_text, output_text = connection.execute(
            "SELECT input, output FROM instances WHERE hub = ? AND instance_id = ?",
            (HUB, run_id),
        ).fetchone()
    store = DurableStore(database, HUB)
    store.open()
    try:
        history = store.read_history(run_id)
    finally:
        asyncio.run(store.close())
    assert any(event.get("Name") == "run_agent_batch" for event in history)

    handle = _agent_batch_handle()
    outcomes = [
        run_episode(
            handle,
            instance_id=run_id,
            parent_instance_id=None,
            input_text=input_text,
            history=history,
            known_ids=scheduled_ids(history),
            child_id_prefix=run_id,
        )
        for _ in range(2)
    ]
    for outcome in outcomes:
        assert outcome.done and outcome.error is None
        assert outcome.new_tasks == []
        assert json.loads(outcome.output) == json.loads(output_text)
        assert outcome.signature == scheduled_signature(history)
    timers = [kind for kind, _ in scheduled_signature(history) if kind == "timer"]
    assert timers, "the faults should have put retry timers into the history"
