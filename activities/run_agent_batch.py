"""Activities of batch runs: thin wrappers over agentops services from the composition root."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from agentops.bootstrap import get_services
from agentops.log_context import log_context
from agentops.runs.contracts import BatchWork, FinalizeWork

bp = df.Blueprint()


@bp.activity_trigger(input_name="work")
async def run_agent_batch(work: dict[str, Any]) -> dict[str, Any]:
    batch = BatchWork.model_validate(work)
    with log_context(
        run_id=batch.run_id, agent=batch.agent, tenant=batch.tenant, instance_id=batch.instance_id
    ):
        services = await get_services()
        report = await services.batches.run(batch)
    return report.model_dump()


@bp.activity_trigger(input_name="work")
async def finalize_run(work: dict[str, Any]) -> None:
    final = FinalizeWork.model_validate(work)
    with log_context(run_id=final.run_id):
        services = await get_services()
        await services.batches.finalize(final)
