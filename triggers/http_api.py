"""The HTTP API: start batch runs, list and follow them, cancel them, list agents, ask one question.

Thin: each route authenticates, validates, calls an agentops service from the composition root
and shapes the answer. Every error is problem+json, and bad input changes nothing. Every call
of a data route, refusals included, leaves one audit entry (`triggers.access.audited`).
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import azure.durable_functions as df
import azure.functions as func

from agentops.auth import ADMIN_ROLE
from agentops.bootstrap import Services
from agentops.conversations import ThreadOpened
from agentops.model.batch_api import FINAL_STATES
from agentops.runs.contracts import PollWork
from agentops.runs.errors import RunConflictError
from agentops.runs.requests import AskRequest, RunListQuery, RunPage, RunPath, RunRequest
from agentops.settings import get_settings
from triggers.access import Access, audited, unverified_id
from triggers.edge import CALLER_ERRORS, read_body
from triggers.http import HttpResponse, Request
from triggers.openapi import openapi_document
from triggers.problems import json_response, problem
from triggers.responses import (
    AgentList,
    AgentSummary,
    Answer,
    Canceled,
    RunAccepted,
    RunList,
    RunSummary,
    RunView,
)
from triggers.sse import (
    AnswerPump,
    NotAcceptable,
    event_stream,
    not_acceptable,
    streamed,
    wants_event_stream,
)

logger = logging.getLogger(__name__)

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)

ORCHESTRATOR = "agent_batch"


@bp.route(route="agents/{agent}/runs", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_run(
    req: Request, client: df.DurableOrchestrationClient, context: func.Context
) -> HttpResponse:
    agent = req.path_params["agent"]

    async def handle(services: Services, access: Access) -> HttpResponse:
        try:
            principal = access.identify(req, services)
            services.agents.get(agent)
            access.resource = f"agents/{agent}"
            access.details["agent"] = agent
            request = await read_body(req, RunRequest, services)
            access.details["queries"] = len(request.queries)
            run = await services.runs.create(principal, agent, request)
        except CALLER_ERRORS as error:
            return access.refuse(error)
        access.resource = f"runs/{run.run_id}"

        try:
            await client.start_new(ORCHESTRATOR, run.run_id, services.runs.spec_for(run))
        except Exception as error:  # the durable backend refused: the run must not look started
            logger.exception("could not start orchestration for run %s", run.run_id)
            await services.runs.mark_failed(run.run_id, f"could not start: {type(error).__name__}")
            return problem(503, "Service unavailable", "the run could not be started; retry later")

        # URLs come from the configured host name, never from the request's Host header.
        run_uri = f"{services.settings.base_url()}/api/runs/{run.run_id}"
        management: dict[str, str] = {"statusQueryGetUri": run_uri}
        if principal.has_role(ADMIN_ROLE):
            # The Durable management URLs carry the durable system key, which opens every
            # instance of every tenant: only operators get them. Without a request the SDK
            # keeps the host's own base URL rather than the caller's.
            management = client.create_http_management_payload(run.run_id)
        body = RunAccepted.model_validate(
            {
                **management,
                "id": run.run_id,
                "runId": run.run_id,
                "runStatusUri": run_uri,
                "cancelPostUri": f"{run_uri}/cancel",
            }
        )
        headers = {"Location": run_uri, "Retry-After": "10"}
        return json_response(body, status=202, headers=headers)

    return await audited(req, context, "run.submit", f"agents/{unverified_id(agent)}", handle)


@bp.route(route="runs", methods=["GET"])
async def list_runs(req: Request, context: func.Context) -> HttpResponse:
    async def handle(services: Services, access: Access) -> HttpResponse:
        try:
            principal = access.identify(req, services)
            query = RunListQuery.model_validate(dict(req.query_params))
            listing = await services.runs.list(
                principal,
                limit=query.limit,
                continuation=query.continuation,
                agent=query.agent,
                status=query.status,
            )
        except CALLER_ERRORS as error:
            return access.refuse(error)
        access.details["records"] = len(listing.runs)
        if query.agent is not None:
            access.details["agent"] = query.agent
        base = services.settings.base_url()
        next_uri = None
        if listing.continuation is not None:
            filters = urlencode(
                {
                    key: value
                    for key, value in (("agent", query.agent), ("status", query.status))
                    if value is not None
                }
            )
            next_uri = (
                f"{base}/api/runs?limit={query.limit}&continuation={listing.continuation}"
                + (f"&{filters}" if filters else "")
            )
        body = RunList(
            runs=[RunSummary.of(snapshot, base) for snapshot in listing.runs],
            continuation=listing.continuation,
            next=next_uri,
        )
        return json_response(body)

    return await audited(req, context, "run.list", "runs", handle)


@bp.route(route="runs/{run_id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def get_run(
    req: Request, client: df.DurableOrchestrationClient, context: func.Context
) -> HttpResponse:
    # The first page reads the run; a continuation pages through its results.
    action = "run.page" if req.query_params.get("continuation") else "run.read"

    async def handle(services: Services, access: Access) -> HttpResponse:
        try:
            principal = access.identify(req, services)
            run_id = RunPath.model_validate(dict(req.path_params)).run_id
            page = RunPage.model_validate(dict(req.query_params))
            status = await client.get_status(run_id)
            snapshot = await services.runs.view(
                principal,
                run_id,
                runtime_status=status.runtime_status.value if status.runtime_status else None,
                custom_status=status.custom_status,
                continuation=page.continuation,
                limit=page.limit,
            )
        except CALLER_ERRORS as error:
            return access.refuse(error)
        access.resource = f"runs/{run_id}"
        access.owned_by(snapshot.run.tenant_id)
        access.details["agent"] = snapshot.run.agent
        access.details["records"] = len(snapshot.items)
        next_uri = None
        if snapshot.next_after is not None:
            next_uri = (
                f"{services.settings.base_url()}/api/runs/{run_id}"
                f"?limit={page.limit}&continuation={snapshot.next_after}"
            )
        return json_response(RunView.of(snapshot, next_uri))

    return await audited(req, context, action, _run_resource(req), handle)


async def _cancel_provider_batches(
    services: Services, client: df.DurableOrchestrationClient, run_id: str
) -> None:
    """A batch-mode run's open batches at the provider, named by its status, are canceled too:
    terminating the orchestration stops its polls, not the provider's work (or its bill)."""
    status = await client.get_status(run_id)
    progress = status.custom_status
    if isinstance(progress, str):
        progress = json.loads(progress)
    if not isinstance(progress, dict):
        return
    batch_ids = [
        str(batch["id"])
        for batch in progress.get("batches") or []
        if isinstance(batch, dict) and batch.get("id") and batch.get("status") not in FINAL_STATES
    ]
    if batch_ids:
        await services.batch_mode.cancel(PollWork(batch_ids=batch_ids))


@bp.route(route="runs/{run_id}/cancel", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def cancel_run(
    req: Request, client: df.DurableOrchestrationClient, context: func.Context
) -> HttpResponse:
    async def handle(services: Services, access: Access) -> HttpResponse:
        try:
            principal = access.identify(req, services)
            run_id = RunPath.model_validate(dict(req.path_params)).run_id
            canceled = await services.runs.cancel(principal, run_id)
        except CALLER_ERRORS as error:
            if isinstance(error, RunConflictError):  # a run the caller may see, already finished
                access.resource = f"runs/{run_id}"
            return access.refuse(error)
        access.resource = f"runs/{run_id}"
        access.owned_by(canceled.run.tenant_id)
        for instance_id in canceled.instances:
            try:
                await client.terminate(instance_id, "canceled")
            except Exception:  # a chunk that never started or already ended has nothing to stop
                logger.debug("terminate %s: nothing to stop", instance_id)
        await _cancel_provider_batches(services, client, run_id)
        return json_response(Canceled(run_id=run_id, status="canceled"), status=202)

    return await audited(req, context, "run.cancel", _run_resource(req), handle)


@bp.route(route="agents", methods=["GET"])
async def list_agents(req: Request, context: func.Context) -> HttpResponse:
    async def handle(services: Services, access: Access) -> HttpResponse:
        try:
            access.identify(req, services)
        except CALLER_ERRORS as error:
            return access.refuse(error)
        # The summary leaves out instructions: what an agent is told is not the caller's to read.
        agents = [
            AgentSummary.model_validate(agent, from_attributes=True)
            for agent in services.agents.list()
        ]
        return json_response(AgentList(agents=agents))

    return await audited(req, context, "agents.list", "agents", handle)


@bp.route(route="agents/{agent}/run", methods=["POST"])
async def ask_agent(req: Request, context: func.Context) -> HttpResponse:
    """One answer as JSON, or with `Accept: text/event-stream` as it is written (`triggers.sse`)."""
    agent = req.path_params["agent"]

    async def handle(services: Services, access: Access) -> HttpResponse:
        try:
            principal = access.identify(req, services)
            stream = wants_event_stream(req.headers.get("accept"))
            services.agents.get(agent)
            access.resource = f"agents/{agent}"
            access.details["agent"] = agent
            request = await read_body(req, AskRequest, services)
            access.details["continued"] = request.thread_id is not None
            access.details["streamed"] = stream
            if request.thread_id is not None:
                access.resource = f"threads/{unverified_id(request.thread_id)}"
            if stream:
                items = AnswerPump(services.conversations.ask_stream(principal, agent, request))
                opened = await anext(items)  # the caller's refusals raise here
                assert isinstance(opened, ThreadOpened)
                access.resource = f"threads/{opened.thread_id}"
                first = await anext(items)  # and the model path's, before any output
            else:
                answer = await services.conversations.ask(principal, agent, request)
        except NotAcceptable as error:
            return not_acceptable(error)
        except CALLER_ERRORS as error:
            return access.refuse(error)
        if stream:
            return streamed(event_stream(first, items))
        response = Answer.model_validate(answer)
        access.resource = f"threads/{response.thread_id}"
        return json_response(response)

    # A question reads the thread it continues and writes both turns to it.
    return await audited(req, context, "thread.write", f"agents/{unverified_id(agent)}", handle)


def _run_resource(req: Request) -> str:
    return f"runs/{unverified_id(req.path_params.get('run_id', ''))}"


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def openapi(req: Request) -> HttpResponse:
    return HttpResponse(openapi_document(get_settings().base_url()), media_type="application/json")
