"""The OpenAPI 3.1 description of the HTTP API, served at GET /api/openapi.json.

Request schemas come from the same pydantic models that validate requests, so they cannot
drift; response schemas are written here and checked against real responses by the tests.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from agentops.runs.requests import AskRequest, RunRequest

_USAGE = {
    "type": "object",
    "required": ["prompt_tokens", "completion_tokens"],
    "properties": {
        "prompt_tokens": {"type": "integer", "minimum": 0},
        "completion_tokens": {"type": "integer", "minimum": 0},
        "total_tokens": {"type": "integer", "minimum": 0},
    },
}
_NULLABLE_STRING = {"type": ["string", "null"]}

_SCHEMAS: dict[str, Any] = {
    "RunRequest": RunRequest.model_json_schema(ref_template="#/components/schemas/{model}"),
    "AskRequest": AskRequest.model_json_schema(ref_template="#/components/schemas/{model}"),
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    },
    "RunAccepted": {
        "type": "object",
        "description": "The Durable check-status shape. Callers without the admin role get only "
        "this API's own URLs (statusQueryGetUri is runStatusUri): the Durable management URLs "
        "carry the host's system key.",
        "required": ["id", "runId", "statusQueryGetUri", "runStatusUri", "cancelPostUri"],
        "properties": {
            "id": {"type": "string"},
            "runId": {"type": "string"},
            "statusQueryGetUri": {"type": "string"},
            "sendEventPostUri": {"type": "string"},
            "terminatePostUri": {"type": "string"},
            "purgeHistoryDeleteUri": {"type": "string"},
            "runStatusUri": {"type": "string"},
            "cancelPostUri": {"type": "string"},
        },
    },
    "Item": {
        "type": "object",
        "required": ["index", "status", "answer", "error", "attempts", "usage", "cached"],
        "properties": {
            "index": {"type": "integer", "minimum": 0},
            "status": {"enum": ["pending", "completed", "failed"]},
            "answer": _NULLABLE_STRING,
            "error": {
                "type": ["object", "null"],
                "properties": {"kind": {"type": "string"}, "message": {"type": "string"}},
            },
            "attempts": {"type": "integer", "minimum": 0},
            "usage": _USAGE,
            "cost": {"type": "number"},
            "cached": {"type": "boolean"},
        },
    },
    "RunView": {
        "type": "object",
        "required": ["id", "agent", "status", "total", "counts", "usage", "cost", "cache", "items"],
        "properties": {
            "id": {"type": "string"},
            "agent": {"type": "string"},
            "status": {
                "enum": ["pending", "running", "completed", "failed", "canceled", "stopped"]
            },
            "runtimeStatus": _NULLABLE_STRING,
            "progress": {},
            "createdAt": {"type": "string"},
            "finishedAt": _NULLABLE_STRING,
            "total": {"type": "integer"},
            "counts": {
                "type": "object",
                "required": ["pending", "completed", "failed"],
                "properties": {
                    "pending": {"type": "integer"},
                    "completed": {"type": "integer"},
                    "failed": {"type": "integer"},
                },
            },
            "usage": _USAGE,
            "cost": {"type": "number"},
            "cache": {
                "type": "object",
                "required": ["hits", "savedCost"],
                "properties": {"hits": {"type": "integer"}, "savedCost": {"type": "number"}},
            },
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
            "continuation": _NULLABLE_STRING,
            "next": _NULLABLE_STRING,
        },
    },
    "AgentList": {
        "type": "object",
        "required": ["agents"],
        "properties": {
            "agents": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "description"],
                    "properties": {
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "deployment": {"type": "string"},
                        "tools": {"type": "array", "items": {"type": "string"}},
                        "sensitive": {"type": "boolean"},
                        "version": {"type": "string"},
                    },
                },
            }
        },
    },
    "Answer": {
        "type": "object",
        "required": ["agent", "thread_id", "answer", "usage", "cost", "cached"],
        "properties": {
            "agent": {"type": "string"},
            "thread_id": {"type": "string"},
            "answer": {"type": "string"},
            "model": {"type": "string"},
            "cached": {"type": "boolean"},
            "usage": _USAGE,
            "cost": {"type": "number"},
            "messages": {"type": "integer"},
        },
    },
    "Canceled": {
        "type": "object",
        "required": ["runId", "status"],
        "properties": {"runId": {"type": "string"}, "status": {"const": "canceled"}},
    },
}
# pydantic puts nested models under $defs; lift them into components.
for _name in ("RunRequest", "AskRequest"):
    _SCHEMAS.update(_SCHEMAS[_name].pop("$defs", {}))


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


_AGENT = {"name": "agent", "in": "path", "required": True, "schema": {"type": "string"}}
_RUN = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}
_UNAUTHORIZED = _problem("Missing or wrong function key")

_PATHS: dict[str, Any] = {
    "/api/agents": {
        "get": {
            "operationId": "list_agents",
            "summary": "The agents and their descriptions",
            "responses": {
                "200": {"description": "Agents", "content": _json("AgentList")},
                "401": _UNAUTHORIZED,
            },
        }
    },
    "/api/agents/{agent}/runs": {
        "post": {
            "operationId": "start_run",
            "summary": "Start a batch run of queries through an agent",
            "parameters": [_AGENT],
            "requestBody": {"required": True, "content": _json("RunRequest")},
            "responses": {
                "202": {"description": "Run started", "content": _json("RunAccepted")},
                "400": _problem("Body not JSON, wrong types, no queries or unknown options"),
                "401": _UNAUTHORIZED,
                "404": _problem("Unknown agent"),
                "413": _problem("Too many queries, or a query too large"),
                "429": _problem("The tenant's or agent's daily budget is spent"),
            },
        }
    },
    "/api/agents/{agent}/run": {
        "post": {
            "operationId": "ask_agent",
            "summary": "Answer one query synchronously, optionally continuing a conversation",
            "parameters": [_AGENT],
            "requestBody": {"required": True, "content": _json("AskRequest")},
            "responses": {
                "200": {"description": "The answer", "content": _json("Answer")},
                "400": _problem("Invalid body"),
                "401": _UNAUTHORIZED,
                "404": _problem("Unknown agent or conversation"),
                "413": _problem("Query too large"),
                "422": _problem("The model refused the request"),
                "429": _problem("Budget spent"),
                "503": _problem("The model is unavailable; retry after Retry-After"),
            },
        }
    },
    "/api/runs/{run_id}": {
        "get": {
            "operationId": "get_run",
            "summary": "A run's status, counts, usage, cost and a page of item results",
            "parameters": [
                _RUN,
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                },
                {"name": "continuation", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {"description": "The run", "content": _json("RunView")},
                "400": _problem("Bad limit or continuation"),
                "401": _UNAUTHORIZED,
                "404": _problem("Unknown run"),
            },
        }
    },
    "/api/runs/{run_id}/cancel": {
        "post": {
            "operationId": "cancel_run",
            "summary": "Cancel a run that is still under way",
            "parameters": [_RUN],
            "responses": {
                "202": {"description": "Canceled", "content": _json("Canceled")},
                "401": _UNAUTHORIZED,
                "404": _problem("Unknown run"),
                "409": _problem("The run already finished"),
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1 document"}},
        }
    },
}


@cache
def _document_template() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "agentops",
            "version": "1.0.0",
            "description": "Run Microsoft Agent Framework agents over batches of queries on "
            "Azure Functions and Durable Functions.",
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"}
            },
        },
        "security": [{"functionKey": []}],
        "paths": _PATHS,
    }


def openapi_document(origin: str) -> dict[str, Any]:
    return {**_document_template(), "servers": [{"url": origin}]}
