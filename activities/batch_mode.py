"""Activities of batch-mode runs: thin wrappers over the batch-mode service."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df
import azure.functions as func
from opentelemetry import trace

from agentops import tracing
from agentops.bootstrap import get_services
from agentops.log_context import log_context
from agentops.runs.contracts import CollectWork, PollWork, RoundWork, StartWork

bp = df.Blueprint()
tracer = trace.get_tracer(__name__)


@bp.activity_trigger(input_name="work")
async def submit_batch_round(work: dict[str, Any], context: func.Context) -> dict[str, Any]:
    job = RoundWork.model_validate(work)
    attributes = {tracing.RUN_ID: job.run_id, tracing.AGENT: job.agent, "agentops.round": job.round}
    services = await get_services()
    with (
        log_context(run_id=job.run_id, agent=job.agent, tenant=job.tenant),
        tracing.activity_span(tracer, "submit_batch_round", job.trace, context, attributes),
    ):
        return (await services.batch_mode.submit(job)).model_dump()


@bp.activity_trigger(input_name="work")
async def poll_batches(work: dict[str, Any], context: func.Context) -> dict[str, Any]:
    job = PollWork.model_validate(work)
    services = await get_services()
    with tracing.activity_span(tracer, "poll_batches", job.trace, context, {}):
        return (await services.batch_mode.poll(job)).model_dump()


@bp.activity_trigger(input_name="work")
async def start_batches(work: dict[str, Any], context: func.Context) -> dict[str, Any]:
    job = StartWork.model_validate(work)
    services = await get_services()
    with tracing.activity_span(tracer, "start_batches", job.trace, context, {}):
        return (await services.batch_mode.start(job)).model_dump()


@bp.activity_trigger(input_name="work")
async def cancel_batches(work: dict[str, Any], context: func.Context) -> None:
    job = PollWork.model_validate(work)
    services = await get_services()
    with tracing.activity_span(tracer, "cancel_batches", job.trace, context, {}):
        await services.batch_mode.cancel(job)


@bp.activity_trigger(input_name="work")
async def collect_batch_round(work: dict[str, Any], context: func.Context) -> dict[str, Any]:
    job = CollectWork.model_validate(work)
    attributes = {tracing.RUN_ID: job.run_id, tracing.AGENT: job.agent, "agentops.round": job.round}
    services = await get_services()
    with (
        log_context(run_id=job.run_id, agent=job.agent, tenant=job.tenant),
        tracing.activity_span(tracer, "collect_batch_round", job.trace, context, attributes),
    ):
        return (await services.batch_mode.collect(job)).model_dump()
