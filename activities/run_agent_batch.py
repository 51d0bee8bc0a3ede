"""Activities of batch runs: thin wrappers over agentops services from the composition root."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df
import azure.functions as func
from opentelemetry import trace

from agentops import tracing
from agentops.bootstrap import get_services
from agentops.log_context import log_context
from agentops.runs.contracts import BatchWork, FinalizeWork

bp = df.Blueprint()
tracer = trace.get_tracer(__name__)


# `context` is the invocation's: its trace context is the host's (Durable's activity span in
# Azure), used as the span's parent when it is in the run's trace.
@bp.activity_trigger(input_name="work")
async def run_agent_batch(work: dict[str, Any], context: func.Context) -> dict[str, Any]:
    batch = BatchWork.model_validate(work)
    attributes = {
        tracing.RUN_ID: batch.run_id,
        tracing.AGENT: batch.agent,
        tracing.INSTANCE_ID: batch.instance_id or batch.run_id,
        "agentops.batch.items": len(batch.indexes),
        "agentops.batch.attempt": batch.attempt,
    }
    # Services first: building them installs the tracer provider the span needs.
    services = await get_services()
    with (
        log_context(
            run_id=batch.run_id,
            agent=batch.agent,
            tenant=batch.tenant,
            instance_id=batch.instance_id,
        ),
        tracing.activity_span(tracer, "run_agent_batch", batch.trace, context, attributes) as span,
    ):
        report = await services.batches.run(batch)
        span.set_attributes(
            {
                "agentops.batch.completed": report.completed,
                "agentops.batch.failed": report.failed,
                "agentops.batch.retry": len(report.retry),
                "agentops.batch.deferred": len(report.deferred),
                tracing.OUTCOME: "stopped" if report.stopped else "done",
            }
        )
    return report.model_dump()


@bp.activity_trigger(input_name="work")
async def finalize_run(work: dict[str, Any], context: func.Context) -> None:
    final = FinalizeWork.model_validate(work)
    attributes = {tracing.RUN_ID: final.run_id, "agentops.run.status": final.status}
    services = await get_services()
    with (
        log_context(run_id=final.run_id),
        tracing.activity_span(tracer, "finalize_run", final.trace, context, attributes),
    ):
        await services.batches.finalize(final)
