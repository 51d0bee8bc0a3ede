"""A durable function with a binding devhost does not supply fails saying which binding."""

from __future__ import annotations

import pytest
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from .conftest import wait_for_status

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def served(serve_engine):
    return await serve_engine("durable_unsupplied")


async def test_an_activity_with_a_blob_input_fails_naming_the_binding(served):
    instance_id = await served.client.start_new("reads_a_blob")
    status = await wait_for_status(served.client, instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Completed
    assert status.output.startswith(
        "caught: Activity function 'blob_reader' cannot run in devhost: devhost does not supply "
        "its blob input binding 'blob' (path 'reports/{name}')"
    )


async def test_an_orchestrator_with_a_queue_output_fails_naming_the_binding(served):
    instance_id = await served.client.start_new("returns_to_a_queue")
    status = await wait_for_status(served.client, instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Failed
    assert "queue output binding '$return' (queueName 'done')" in status.output


async def test_an_activity_with_a_durable_client_fails_naming_it(served):
    instance_id = await served.client.start_new("starts_from_an_activity")
    status = await wait_for_status(served.client, instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Failed
    assert "Activity function 'start_another' cannot run in devhost" in status.output
    assert "durableClient input binding 'client'" in status.output
