"""The OpenAPI document stays true: every route is described, and real responses match it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest

from devhost.testing import Devhost
from tests.e2e.conftest import app_functions, start_run, wait_run


def _app_routes() -> set[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for function in app_functions():
        trigger = function.get_trigger()
        # The monitor page's static files (`triggers.ui_api`) are not part of the JSON API.
        if trigger.get_binding_name() == "httpTrigger" and not trigger.route.startswith("ui/"):
            for method in trigger.methods:
                routes.add((f"/api/{trigger.route}", str(method).lower().split(".")[-1]))
    return routes


def _document_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }


def test_every_route_is_described_and_nothing_else() -> None:
    from triggers.openapi import openapi_document

    assert _document_routes(json.loads(openapi_document("http://x"))) == _app_routes()


@pytest.mark.slow
def test_real_responses_match_the_document(api: httpx.Client, app_host: Devhost) -> None:
    document = httpx.get(app_host.url("/api/openapi.json"), timeout=10).json()
    assert document["openapi"].startswith("3.1")

    def check(response: httpx.Response, path: str, method: str) -> None:
        described = document["paths"][path][method]["responses"][str(response.status_code)]
        content = described.get("content")
        if not content:
            return
        schema = next(iter(content.values()))["schema"]
        resolver_doc = {**schema, "components": document["components"]}
        jsonschema.validate(response.json(), resolver_doc)

    check(api.get("/api/agents"), "/api/agents", "get")
    started = api.post("/api/agents/calculator/runs", json={"queries": ["add 1 and 2"]})
    check(started, "/api/agents/{agent}/runs", "post")
    wait_run(api, started.json()["runId"])
    check(api.get(f"/api/runs/{started.json()['runId']}"), "/api/runs/{run_id}", "get")
    check(api.get("/api/runs/nothere"), "/api/runs/{run_id}", "get")
    check(api.post("/api/agents/calculator/runs", json={}), "/api/agents/{agent}/runs", "post")
    check(
        api.post("/api/agents/summarizer/run", json={"query": "hello"}),
        "/api/agents/{agent}/run",
        "post",
    )
    other = start_run(api, "summarizer", ["x"])
    wait_run(api, other["runId"])
    check(api.post(f"/api/runs/{other['runId']}/cancel"), "/api/runs/{run_id}/cancel", "post")
    limits = api.get("/api/ops/limits")
    assert limits.status_code == 200
    check(limits, "/api/ops/limits", "get")
