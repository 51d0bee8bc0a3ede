"""A replay whose actions differ from history fails the orchestration, as Azure does."""

from __future__ import annotations

import pytest
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from .conftest import wait_for_status

pytestmark = pytest.mark.timeout(30)


async def _wait_for_first_activity(served, instance_id: str) -> None:
    for _ in range(500):
        status = await served.client.get_status(instance_id, show_history=True)
        if any(e["EventType"] == "TaskCompleted" for e in status.historyEvents or []):
            return
        import asyncio

        await asyncio.sleep(0.01)
    raise AssertionError("the first activity never completed")


async def test_changed_code_path_fails_with_non_determinism(serve_engine):
    served = await serve_engine("durable_nondeterminism")
    instance_id = await served.client.start_new("drifting")
    await _wait_for_first_activity(served, instance_id)
    served.module.CODE_PATH["first_activity"] = "step_b"  # a code change mid-run
    await served.client.raise_event(instance_id, "go", "now")
    status = await wait_for_status(served.client, instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Failed
    assert status.output.startswith("Orchestrator function 'drifting' failed: ")
    assert "Non-Deterministic workflow detected" in status.output
    assert "activity 'step_a'" in status.output and "activity 'step_b'" in status.output


async def test_unchanged_code_path_completes(serve_engine):
    served = await serve_engine("durable_nondeterminism")
    instance_id = await served.client.start_new("drifting")
    await _wait_for_first_activity(served, instance_id)
    await served.client.raise_event(instance_id, "go", "now")
    status = await wait_for_status(served.client, instance_id)
    assert status.output == ["a1", "now", "a2"]
