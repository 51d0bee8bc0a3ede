"""The HTTP API: start batch runs, follow them, cancel them, list agents, ask one question.

Thin: each route authenticates, validates, calls an agentops service from the composition root
and shapes the answer. Every error is problem+json, and bad input changes nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import ValidationError

from agentops.agents.registry import UnknownAgentError
from agentops.auth import AuthenticationError, Principal, principal_from_headers
from agentops.bootstrap import Services, get_services
from agentops.conversations import UnknownThreadError
from agentops.model.types import (
    BudgetExceededError,
    ModelError,
    PermanentModelError,
    TransientModelError,
)
from agentops.runs.errors import InvalidContinuationError, RunConflictError, UnknownRunError
from agentops.runs.requests import AskRequest, RunRequest
from triggers.openapi import openapi_document
from triggers.problems import json_response, problem

logger = logging.getLogger(__name__)

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)

ORCHESTRATOR = "agent_batch"
ADMIN_ROLE = "admin"
MAX_BODY_BYTES = 64 * 1024 * 1024


@bp.route(route="agents/{agent}/runs", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_run(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    services = await get_services()
    try:
        principal = _caller(req, services)
        services.agents.get(req.route_params["agent"])
        request = _parse_run_request(req, services.settings)
        run = await services.runs.create(principal, req.route_params["agent"], request)
    except CALLER_ERRORS as error:
        return problem_for(error)

    try:
        await client.start_new(ORCHESTRATOR, run.run_id, services.runs.spec_for(run))
    except Exception as error:  # the durable backend refused: the run must not look started
        logger.exception("could not start orchestration for run %s", run.run_id)
        await services.runs.mark_failed(run.run_id, f"could not start: {error}")
        return problem(503, "Service unavailable", "the run could not be started; retry later")

    origin = _origin(req)
    ours = {
        "id": run.run_id,
        "runId": run.run_id,
        "runStatusUri": f"{origin}/api/runs/{run.run_id}",
        "cancelPostUri": f"{origin}/api/runs/{run.run_id}/cancel",
    }
    if principal.has_role(ADMIN_ROLE):
        # The Durable management URLs carry the host's system key, which opens every instance
        # of every tenant: only operators get them.
        body = {**json.loads(client.create_check_status_response(req, run.run_id).get_body())}
        body.update(ours)
    else:
        body = {**ours, "statusQueryGetUri": ours["runStatusUri"]}
    return json_response(body, status=202, headers={"Location": ours["runStatusUri"]})


@bp.route(route="runs/{run_id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def get_run(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    services = await get_services()
    run_id = req.route_params["run_id"]
    try:
        principal = _caller(req, services)
        limit = _int_param(req, "limit", default=100, low=1, high=1000)
        status = await client.get_status(run_id)
        view = await services.runs.view(
            principal,
            run_id,
            runtime_status=status.runtime_status.value if status.runtime_status else None,
            custom_status=status.custom_status,
            continuation=req.params.get("continuation"),
            limit=limit,
        )
    except CALLER_ERRORS as error:
        return problem_for(error)
    if view.get("continuation"):
        view["next"] = (
            f"{_origin(req)}/api/runs/{run_id}?limit={limit}&continuation={view['continuation']}"
        )
    return json_response(view)


@bp.route(route="runs/{run_id}/cancel", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def cancel_run(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    services = await get_services()
    run_id = req.route_params["run_id"]
    try:
        principal = _caller(req, services)
        instances = await services.runs.cancel(principal, run_id)
    except CALLER_ERRORS as error:
        return problem_for(error)
    for instance_id in instances:
        try:
            await client.terminate(instance_id, f"canceled by {principal.id}")
        except Exception:  # a chunk that never started or already ended has nothing to stop
            logger.debug("terminate %s: nothing to stop", instance_id)
    return json_response({"runId": run_id, "status": "canceled"}, status=202)


@bp.route(route="agents", methods=["GET"])
async def list_agents(req: func.HttpRequest) -> func.HttpResponse:
    services = await get_services()
    # The summary leaves out instructions: what an agent is told is not the caller's to read.
    return json_response({"agents": [asdict(agent) for agent in services.agents.list()]})


@bp.route(route="agents/{agent}/run", methods=["POST"])
async def ask_agent(req: func.HttpRequest) -> func.HttpResponse:
    services = await get_services()
    try:
        principal = _caller(req, services)
        services.agents.get(req.route_params["agent"])
        request = AskRequest.model_validate(_json_body(req))
        _check_query_size(request.query, "query", services.settings.max_query_bytes)
        answer = await services.conversations.ask(principal, req.route_params["agent"], request)
    except CALLER_ERRORS as error:
        return problem_for(error)
    return json_response(answer)


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(openapi_document(_origin(req)))


class _Refusal(Exception):
    """Bad input found while parsing: carries the problem response to send."""

    def __init__(self, response: func.HttpResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


# What a caller can cause or be told about; anything else is a fault of ours (500, logged).
CALLER_ERRORS = (
    _Refusal,
    ValidationError,
    AuthenticationError,
    UnknownAgentError,
    UnknownRunError,
    UnknownThreadError,
    InvalidContinuationError,
    RunConflictError,
    ModelError,
)


def problem_for(error: Exception) -> func.HttpResponse:
    """The one mapping from domain errors to problem+json."""
    match error:
        case _Refusal():
            return error.response
        case ValidationError():
            return _validation_problem(error)
        case AuthenticationError():
            return problem(401, "Unauthorized", str(error))
        case UnknownAgentError():
            return problem(404, "Unknown agent", str(error), kind="unknown-agent")
        case UnknownRunError():
            return problem(404, "Unknown run", str(error), kind="unknown-run")
        case UnknownThreadError():
            return problem(404, "Unknown conversation", str(error), kind="unknown-thread")
        case InvalidContinuationError():
            return problem(400, "Invalid request", str(error), kind="invalid-request")
        case RunConflictError():
            return problem(409, "Run already finished", str(error), kind="run-finished")
        case BudgetExceededError():
            return _budget_problem(error)
        case PermanentModelError():
            return problem(422, "Model refused", error.reason, kind="model-refused")
        case TransientModelError() if error.retry_after_s:
            headers = {"Retry-After": str(max(1, round(error.retry_after_s)))}
            return problem(503, "Model unavailable", error.reason, headers=headers)
        case ModelError():
            return problem(503, "Model unavailable", error.reason)
    raise TypeError(f"no problem mapping for {type(error).__name__}") from error


def _parse_run_request(req: func.HttpRequest, settings: Any) -> RunRequest:
    body = _json_body(req)
    queries = body.get("queries") if isinstance(body, dict) else None
    if isinstance(queries, list):
        if len(queries) > settings.max_queries:
            raise _Refusal(
                problem(
                    413,
                    "Too many queries",
                    f"queries: {len(queries)} given, at most {settings.max_queries} per run",
                    kind="too-many-queries",
                    errors=[{"field": "queries", "message": "too many items"}],
                )
            )
        for position, query in enumerate(queries):
            if isinstance(query, str):
                _check_query_size(query, f"queries[{position}]", settings.max_query_bytes)
    try:
        return RunRequest.model_validate(body)
    except ValidationError as error:
        raise _Refusal(_validation_problem(error)) from error


def _caller(req: func.HttpRequest, services: Services) -> Principal:
    return principal_from_headers(req.headers, trusted=services.settings.website_auth_enabled)


def _check_query_size(query: str, field: str, limit: int) -> None:
    size = len(query.encode())
    if size > limit:
        raise _Refusal(
            problem(
                413,
                "Query too large",
                f"{field}: {size} bytes, at most {limit}",
                kind="query-too-large",
                errors=[{"field": field, "message": f"longer than {limit} bytes"}],
            )
        )


def _json_body(req: func.HttpRequest) -> Any:
    raw = req.get_body()
    if len(raw) > MAX_BODY_BYTES:
        raise _Refusal(problem(413, "Body too large", f"at most {MAX_BODY_BYTES} bytes"))
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _Refusal(
            problem(400, "Invalid JSON", f"the body is not JSON: {error}", kind="invalid-json")
        ) from error


def _validation_problem(error: ValidationError) -> func.HttpResponse:
    errors = [
        {"field": _field_name(e["loc"]), "message": e["msg"]}
        for e in error.errors(include_url=False)
    ]
    detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
    return problem(400, "Invalid request", detail, kind="invalid-request", errors=errors)


def _field_name(location: tuple[Any, ...]) -> str:
    name = ""
    for part in location:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def _budget_problem(error: BudgetExceededError) -> func.HttpResponse:
    return problem(
        429,
        "Budget exceeded",
        error.reason,
        kind="budget-exceeded",
        headers={"Retry-After": error.resets_at.strftime("%a, %d %b %Y %H:%M:%S GMT")},
        scope=error.scope,
        resetsAt=error.resets_at.isoformat(),
    )


def _int_param(req: func.HttpRequest, name: str, *, default: int, low: int, high: int) -> int:
    raw = req.params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise _Refusal(
            problem(
                400,
                "Invalid request",
                f"{name}: an integer from {low} to {high}",
                kind="invalid-request",
                errors=[{"field": name, "message": "out of range"}],
            )
        )
    return value


def _origin(req: func.HttpRequest) -> str:
    scheme, _, rest = req.url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
