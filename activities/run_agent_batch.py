"""Activities of batch runs: thin wrappers over agentops services from the composition root."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from agentops.bootstrap import get_services
from agentops.runs.contracts import BatchWork, FinalizeWork

bp = df.Blueprint()


@bp.activity_trigger(input_name="work")
async def run_agent_batch(work: dict[str, Any]) -> dict[str, Any]:
    services = await get_services()
    report = await services.batches.run(BatchWork.model_validate(work))
    return report.model_dump()


@bp.activity_trigger(input_name="work")
async def finalize_run(work: dict[str, Any]) -> None:
    services = await get_services()
    await services.batches.finalize(FinalizeWork.model_validate(work))
