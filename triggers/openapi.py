"""The OpenAPI 3.1 description of the HTTP API, served at GET /api/openapi.json.

Every schema comes from the pydantic models that validate requests (`agentops.runs.requests`)
and build responses (`triggers.responses`), so the description cannot drift from the code. The
links let a client (or a stateful fuzzer) follow a started run to its status and cancel routes.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from agentops.backup.requests import BackupPage, BackupPath, RestorePath, RestoreRequest
from agentops.reports.requests import ReportListQuery, ReportPath, ReportQuery
from agentops.runs.requests import AskRequest, RunListQuery, RunPage, RunPath, RunRequest
from triggers.backup_responses import BACKUP_RESPONSE_MODELS
from triggers.ops_responses import OPS_RESPONSE_MODELS
from triggers.report_responses import REPORT_RESPONSE_MODELS
from triggers.responses import RESPONSE_MODELS
from triggers.stream_responses import EVENT_NAMES, STREAM_EVENT_MODELS

EVENT_STREAM = "text/event-stream"

_REF = "#/components/schemas/{model}"


@cache
def _schemas() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Any]] = [
        (RunRequest, "validation"),
        (AskRequest, "validation"),
        *((model, "serialization") for model in RESPONSE_MODELS),
        *((model, "serialization") for model in STREAM_EVENT_MODELS),
        (RestoreRequest, "validation"),
        *((model, "serialization") for model in BACKUP_RESPONSE_MODELS),
        *((model, "serialization") for model in REPORT_RESPONSE_MODELS),
        *((model, "serialization") for model in OPS_RESPONSE_MODELS),
    ]
    _, document = models_json_schema(models, by_alias=True, ref_template=_REF)
    return document["$defs"]


def _parameters(model: type[BaseModel], where: str) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": where, "required": name in required, "schema": field}
        for name, field in schema["properties"].items()
    ]


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _REF.format(model=schema)}}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": _REF.format(model="Problem")}}},
    }


def _responses(ok: tuple[str, str, str], **problems: str) -> dict[str, Any]:
    status, description, schema = ok
    return {
        status: {"description": description, "content": _json(schema)},
        "401": _problem("Missing or wrong function key, or no signed-in principal"),
        "403": _problem("The signed-in principal names no tenant"),
        "429": _problem(
            "Too many requests or new conversations from this tenant or user (Retry-After), "
            "or a budget spent"
        ),
        **{code.removeprefix("s"): _problem(text) for code, text in problems.items()},
    }


def _streamed(responses: dict[str, Any]) -> dict[str, Any]:
    """The ask route's 200 also as Server-Sent Events (`triggers.stream_responses`)."""
    names = ", ".join(f"`{name}`" for name in EVENT_NAMES)
    ok = responses["200"]
    ok["content"] = {
        **ok["content"],
        EVENT_STREAM: {
            "schema": {
                "type": "string",
                "description": (
                    f"Server-Sent Events named {names}: each `event:` line is followed by one "
                    "`data:` line holding a JSON object. `delta` is TextDeltaEvent, `tool_call` "
                    "ToolCallEvent, `tool_result` ToolResultEvent, `done` (last) Answer, "
                    "`error` (last, after a failure once the stream began) Problem."
                ),
            },
            "x-event-schemas": {
                "delta": {"$ref": _REF.format(model="TextDeltaEvent")},
                "tool_call": {"$ref": _REF.format(model="ToolCallEvent")},
                "tool_result": {"$ref": _REF.format(model="ToolResultEvent")},
                "done": {"$ref": _REF.format(model="Answer")},
                "error": {"$ref": _REF.format(model="Problem")},
            },
        },
    }
    return responses


_AGENT = {
    "name": "agent",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
}
_RUN_ID = _parameters(RunPath, "path")
_TO_RUN = {"run_id": "$response.body#/runId"}


@cache
def _paths() -> dict[str, Any]:
    return {
        **_run_paths(),
        **_backup_paths(),
        **_report_paths(),
        **_ops_paths(),
        **_health_paths(),
    }


def _run_paths() -> dict[str, Any]:
    return {
        "/api/agents": {
            "get": {
                "operationId": "list_agents",
                "summary": "The agents and their descriptions",
                "responses": _responses(("200", "Agents", "AgentList")),
            }
        },
        "/api/agents/{agent}/runs": {
            "post": {
                "operationId": "start_run",
                "summary": "Start a batch run of queries through an agent",
                "parameters": [_AGENT],
                "requestBody": {"required": True, "content": _json("RunRequest")},
                "responses": _linked(
                    _responses(
                        ("202", "Run started", "RunAccepted"),
                        s400="Body not JSON, wrong types, blank or no queries, unknown options",
                        s404="Unknown agent",
                        s413="Body too large, too many queries, or a query too large",
                        s409="Batch mode asked for an agent that does not allow it",
                        s503="The run could not be started (durable backend, or no data key "
                        "for a sensitive agent); retry later",
                    ),
                    "202",
                    GetRun={"operationId": "get_run", "parameters": _TO_RUN},
                    CancelRun={"operationId": "cancel_run", "parameters": _TO_RUN},
                ),
            }
        },
        "/api/agents/{agent}/run": {
            "post": {
                "operationId": "ask_agent",
                "summary": "Answer one query synchronously, optionally continuing a conversation",
                "parameters": [_AGENT],
                "description": "With `Accept: text/event-stream` the answer streams as "
                "Server-Sent Events (see the 200 response); refusals keep their status and "
                "problem+json either way.",
                "requestBody": {"required": True, "content": _json("AskRequest")},
                "responses": _streamed(
                    _responses(
                        ("200", "The answer", "Answer"),
                        s400="Invalid body",
                        s404="Unknown agent or conversation",
                        s406="Accept admits neither application/json nor text/event-stream",
                        s413="Body or query too large",
                        s422="The model refused the request",
                        s503="The model is unavailable (retry after Retry-After), or no data "
                        "key for a sensitive agent",
                    )
                ),
            }
        },
        "/api/runs": {
            "get": {
                "operationId": "list_runs",
                "summary": "The caller's runs, newest first, a page at a time; an admin's "
                "listing spans every tenant",
                "parameters": _parameters(RunListQuery, "query"),
                "responses": _responses(
                    ("200", "A page of runs", "RunList"),
                    s400="Bad limit, continuation, agent or status",
                ),
            }
        },
        "/api/runs/{run_id}": {
            "get": {
                "operationId": "get_run",
                "summary": "A run's status, counts, usage, cost, item stats and a page of items",
                "parameters": [*_RUN_ID, *_parameters(RunPage, "query")],
                "responses": _responses(
                    ("200", "The run", "RunView"),
                    s400="Bad run id, limit or continuation",
                    s404="Unknown run",
                ),
            }
        },
        "/api/runs/{run_id}/cancel": {
            "post": {
                "operationId": "cancel_run",
                "summary": "Cancel a run that is still under way",
                "parameters": _RUN_ID,
                "responses": _responses(
                    ("202", "Canceled", "Canceled"),
                    s400="Bad run id",
                    s404="Unknown run",
                    s409="The run already finished",
                ),
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1 document",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }


def _backup_paths() -> dict[str, Any]:
    """The admin routes over backups (`triggers.backup_api`)."""
    admin = {"s403": "The principal names no tenant, or does not hold the admin role"}
    unavailable = {"s503": "No usable backup encryption key is configured"}
    backup_id = _parameters(BackupPath, "path")
    to_backup = {"backup_id": "$response.body#/id"}
    to_restore = {
        "backup_id": "$response.body#/backupId",
        "restore_id": "$response.body#/restoreId",
    }
    return {
        "/api/backups": {
            "get": {
                "operationId": "list_backups",
                "summary": "Complete backups, newest first, a page at a time (admin)",
                "parameters": _parameters(BackupPage, "query"),
                "responses": _responses(
                    ("200", "A page of backups", "BackupList"),
                    **admin,
                    **unavailable,
                    s400="Bad limit or continuation",
                    s422="A backup's manifest cannot be read",
                ),
            },
            "post": {
                "operationId": "create_backup",
                "summary": "Start a full backup now (admin); requests within a second start one",
                "responses": _linked(
                    _responses(
                        ("202", "Backup started", "BackupAccepted"),
                        **admin,
                        s503="No usable backup encryption key, or the backup could not be "
                        "started; retry later",
                    ),
                    "202",
                    GetBackup={"operationId": "get_backup", "parameters": to_backup},
                    VerifyBackup={"operationId": "verify_backup", "parameters": to_backup},
                    RestoreBackup={"operationId": "start_restore", "parameters": to_backup},
                ),
            },
        },
        "/api/backups/{backup_id}": {
            "get": {
                "operationId": "get_backup",
                "summary": "A backup's manifest, or that it is still being written (admin)",
                "parameters": backup_id,
                "responses": _responses(
                    ("200", "The backup (status running, completed or failed)", "BackupView"),
                    **admin,
                    **unavailable,
                    s400="Bad backup id",
                    s404="Unknown backup",
                    s422="The backup's manifest cannot be read",
                ),
            }
        },
        "/api/backups/{backup_id}/verify": {
            "post": {
                "operationId": "verify_backup",
                "summary": "Read every part of a backup and check it against the manifest (admin)",
                "parameters": backup_id,
                "responses": _responses(
                    ("200", "The verification's result, passed or not", "VerifyView"),
                    **admin,
                    **unavailable,
                    s400="Bad backup id",
                    s404="Unknown backup",
                    s409="The backup is still being written",
                ),
            }
        },
        "/api/backups/{backup_id}/restore": {
            "post": {
                "operationId": "start_restore",
                "summary": "Verify a backup, then restore it (or count, in a dry run) (admin)",
                "parameters": backup_id,
                "requestBody": {"required": True, "content": _json("RestoreRequest")},
                "responses": _linked(
                    _responses(
                        ("202", "Restore started", "RestoreAccepted"),
                        **admin,
                        s400="Bad backup id, body not JSON, wrong types, unknown fields",
                        s404="Unknown backup",
                        s409="The backup is still being written, or a restore of it is running",
                        s413="Body too large",
                        s422="The backup's manifest cannot be read",
                        s503="No usable backup encryption key, or the restore could not be "
                        "started; retry later",
                    ),
                    "202",
                    GetRestore={"operationId": "get_restore", "parameters": to_restore},
                ),
            }
        },
        "/api/backups/{backup_id}/restores/{restore_id}": {
            "get": {
                "operationId": "get_restore",
                "summary": "A restore: running, completed with its counts, or failed with its "
                "problems (admin)",
                "parameters": _parameters(RestorePath, "path"),
                "responses": _responses(
                    ("200", "The restore", "RestoreView"),
                    **admin,
                    s400="Bad backup or restore id",
                    s404="Unknown restore",
                ),
            }
        },
    }


def _report_paths() -> dict[str, Any]:
    """The routes over cost and compliance reports (`triggers.report_api`)."""
    admin_only = "The principal names no tenant, or lacks the admin role (reports span tenants)"
    html = {"text/html": {"schema": {"type": "string"}}}
    read = _responses(
        ("200", "The report: JSON by default, an HTML page with format=html", "ReportView"),
        s400="Bad report id or query parameter",
        s404="Unknown report",
    )
    read["200"]["content"] |= html
    read["403"] = _problem(admin_only)
    listing = _responses(
        ("200", "Reports, newest first", "ReportList"),
        s400="Unknown kind or parameter, bad limit or continuation",
    )
    listing["403"] = _problem(admin_only)
    return {
        "/api/reports": {
            "get": {
                "operationId": "list_reports",
                "summary": "Stored cost and compliance reports, newest first (admin)",
                "parameters": _parameters(ReportListQuery, "query"),
                "responses": listing,
            }
        },
        "/api/reports/{report_id}": {
            "get": {
                "operationId": "get_report",
                "summary": "One report as JSON, or as an HTML page with charts (admin)",
                "parameters": [
                    *_parameters(ReportPath, "path"),
                    *_parameters(ReportQuery, "query"),
                ],
                "responses": read,
            }
        },
    }


def _ops_paths() -> dict[str, Any]:
    """The operations route (`triggers.ops_api`)."""
    limits = _responses(("200", "Limiter load and budgets used today", "OpsLimits"))
    limits["403"] = _problem(
        "The principal names no tenant, or lacks the admin role (budgets span tenants)"
    )
    return {
        "/api/ops/limits": {
            "get": {
                "operationId": "ops_limits",
                "summary": "Rate limiter load per deployment in the answering worker process "
                "(each instance and worker process paces its own share), and budgets used "
                "today per tenant and agent (admin)",
                "responses": limits,
            }
        }
    }


def _health_paths() -> dict[str, Any]:
    """The anonymous health probes (`triggers.health_api`); schemas inline, as they are flat."""
    from triggers.health_api import Liveness, Readiness

    def body(model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(by_alias=True, mode="serialization")
        return {"application/json": {"schema": schema}}

    return {
        "/api/health/live": {
            "get": {
                "operationId": "health_live",
                "summary": "Liveness: the worker answers",
                "security": [],
                "responses": {"200": {"description": "Alive", "content": body(Liveness)}},
            }
        },
        "/api/health/ready": {
            "get": {
                "operationId": "health_ready",
                "summary": "Readiness: store, blob storage, secrets and model endpoint reachable",
                "security": [],
                "responses": {
                    "200": {"description": "Ready", "content": body(Readiness)},
                    "503": {
                        "description": "Not ready: `failed` names the checks",
                        "content": body(Readiness),
                    },
                },
            }
        },
    }


def _linked(responses: dict[str, Any], status: str, **links: Any) -> dict[str, Any]:
    responses[status]["links"] = links
    return responses


@cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "agentops",
            "version": "1.0.0",
            "description": "Run Microsoft Agent Framework agents over batches of queries on "
            "Azure Functions and Durable Functions.",
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"}
            },
        },
        "security": [{"functionKey": []}],
        "paths": _paths(),
    }


def openapi_document(origin: str) -> str:
    """The document as JSON, its server the app's configured public address."""
    return json.dumps({**_document(), "servers": [{"url": origin}]})
