"""`GET /api/runs`: a caller lists its own tenant's runs, newest first, a page at a time, by
agent and status; an admin lists every tenant's; bad parameters are problem+json 400."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import principal_headers, wait_run

pytestmark = pytest.mark.slow

CONTOSO = principal_headers("contoso", "user-1", "runs.write")
FABRIKAM = principal_headers("fabrikam", "user-2", "runs.write")


def _start(api: httpx.Client, agent: str, query: str, headers: dict[str, str]) -> str:
    started = api.post(f"/api/agents/{agent}/runs", json={"queries": [query]}, headers=headers)
    assert started.status_code == 202, started.text
    return started.json()["runId"]


def _all_pages(api: httpx.Client, headers: dict[str, str], **params: str) -> list[dict]:
    runs: list[dict] = []
    query: dict[str, str] = {"limit": "2", **params}
    while True:
        response = api.get("/api/runs", params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        runs += body["runs"]
        if body["continuation"] is None:
            assert body["next"] is None
            return runs
        # The next URL carries the filters with the token.
        assert all(f"{key}={value}" in body["next"] for key, value in params.items())
        query["continuation"] = body["continuation"]


def test_a_tenant_lists_its_own_runs_newest_first_and_never_another_tenants(
    api: httpx.Client,
) -> None:
    contoso = [_start(api, "calculator", f"what is {n} + {n}?", CONTOSO) for n in range(3)]
    contoso.append(_start(api, "summarizer", "summarize this", CONTOSO))
    fabrikam = _start(api, "calculator", "what is 9 + 9?", FABRIKAM)
    for run_id in contoso:
        wait_run(api, run_id, headers=CONTOSO)
    wait_run(api, fabrikam, headers=FABRIKAM)

    listed = _all_pages(api, CONTOSO)
    assert [run["id"] for run in listed] == contoso[::-1]
    assert {run["tenant"] for run in listed} == {"contoso"}
    first = listed[-1]
    assert first["status"] == "completed" and first["counts"]["completed"] == 1
    assert first["usage"]["totalTokens"] > 0 and first["cost"] > 0
    assert first["uri"].endswith(f"/api/runs/{contoso[0]}")

    assert [run["id"] for run in _all_pages(api, FABRIKAM)] == [fabrikam]
    # The admin (the fixture's operator) sees both tenants' runs.
    everyone = {run["id"] for run in _all_pages(api, {})}
    assert {*contoso, fabrikam} <= everyone


def test_filters_by_agent_and_status(api: httpx.Client) -> None:
    headers = principal_headers("globex", "user-3", "runs.write")
    calc = _start(api, "calculator", "what is 2 + 2?", headers)
    summary = _start(api, "summarizer", "summarize that", headers)
    wait_run(api, calc, headers=headers)
    wait_run(api, summary, headers=headers)
    assert [r["id"] for r in _all_pages(api, headers, agent="summarizer")] == [summary]
    done = _all_pages(api, headers, agent="calculator", status="completed")
    assert [r["id"] for r in done] == [calc]
    assert _all_pages(api, headers, status="running") == []
    assert _all_pages(api, headers, status="canceled") == []
    # A token of the right shape is a position, even one no page ended on: after the year
    # 9999 comes everything, before the year 0000 nothing.
    late = api.get("/api/runs", params={"continuation": "99991231T235959999999-z"}, headers=headers)
    assert [r["id"] for r in late.json()["runs"]] == [summary, calc]
    early = api.get(
        "/api/runs", params={"continuation": "00000000T000000000000-0"}, headers=headers
    )
    assert early.json()["runs"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"status": "exploded"},
        {"agent": "../etc"},
        {"continuation": "not a token!"},
        {"continuation": "20261206T172948-abc"},  # too few digits
    ],
)
def test_bad_parameters_are_problem_400(api: httpx.Client, params: dict[str, str]) -> None:
    response = api.get("/api/runs", params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 400
