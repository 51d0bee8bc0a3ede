"""Runtime control: read and replace the config, reset, stats."""

from __future__ import annotations

import httpx
from openai import AsyncOpenAI

from tests.devhost.simulator.conftest import user


async def test_put_config_changes_behaviour_without_restart(
    http: httpx.AsyncClient, client: AsyncOpenAI
) -> None:
    await client.chat.completions.create(model="gpt-4o-mini", messages=user("before"))
    config = (await http.get("/sim/config")).json()
    config["faults"] = {"schedule": [{"fault": "503"}]}

    response = await http.put("/sim/config", json=config)
    assert response.status_code == 200
    assert response.json()["faults"]["schedule"][0]["fault"] == "503"

    failing = await http.post(
        "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": user("after")}
    )
    assert failing.status_code == 503
    assert (await http.get("/sim/config")).json()["faults"]["schedule"][0]["fault"] == "503"


async def test_bad_config_is_refused_with_the_field_and_changes_nothing(
    http: httpx.AsyncClient,
) -> None:
    before = (await http.get("/sim/config")).json()

    response = await http.put("/sim/config", json={"faults": {"rates": {"500": 1.5}}})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "faults.rates.500"
    assert error["code"] == "invalid_config"
    assert "faults.rates.500" in error["message"]

    for bad in (
        {"faults": {"rates": {"500": 0.6, "503": 0.6}}},
        {"latency": {"distribution": "lognormal", "ms": 100, "p99_ms": 50}},
        {"limits": {"m": {"rpm": 0}}},
        {"faults": {"schedule": [{"fault": "sometimes"}]}},
        {"faults": {"schedule": [{"fault": "503"}, {"requests": 2}]}},
        {"unknown_knob": 1},
    ):
        assert (await http.put("/sim/config", json=bad)).status_code == 400, bad
    assert (await http.put("/sim/config", content=b"{nope")).status_code == 400
    assert (await http.put("/sim/config", json=[1])).status_code == 400
    assert (await http.get("/sim/config")).json() == before


async def test_patch_merges_top_level_fields(http: httpx.AsyncClient) -> None:
    response = await http.patch("/sim/config", json={"seed": 42})
    assert response.status_code == 200
    config = response.json()
    assert config["seed"] == 42
    assert config["deployments"] == ["gpt-4o-mini", "other"]


async def test_reset_clears_counters_schedule_and_quota(http: httpx.AsyncClient) -> None:
    config = {
        "limits": {"m": {"rpm": 60, "window_s": 1}},  # one request per second
        "faults": {"schedule": [{"requests": 1, "fault": "500"}]},
    }
    assert (await http.put("/sim/config", json=config)).status_code == 200
    body = {"model": "m", "messages": user("x")}

    async def status() -> int:
        return (await http.post("/v1/chat/completions", json=body)).status_code

    assert [await status(), await status()] == [500, 429]
    stats = (await http.get("/sim/stats")).json()
    assert stats["requests"] == 2
    assert stats["deployments"]["m"]["by_status"] == {"500": 1, "429": 1}
    assert stats["schedule"]["*"]["phase"] == "done"

    reset = await http.post("/sim/reset")
    assert reset.status_code == 200
    assert reset.json()["requests"] == 0
    assert reset.json()["schedule"]["*"]["phase"] == 0
    assert await status() == 500  # the schedule starts again with a full quota


async def test_stats_count_tokens_by_deployment(
    http: httpx.AsyncClient, client: AsyncOpenAI
) -> None:
    a = await client.chat.completions.create(model="gpt-4o-mini", messages=user("one"))
    b = await client.chat.completions.create(model="other", messages=user("two"))
    stats = (await http.get("/sim/stats")).json()
    assert a.usage is not None and b.usage is not None
    assert stats["tokens"]["total"] == a.usage.total_tokens + b.usage.total_tokens
    assert stats["deployments"]["other"]["completion_tokens"] == b.usage.completion_tokens
    assert stats["deployments"]["gpt-4o-mini"]["requests"] == 1
    assert stats["in_flight"] == 0


async def test_served_lists_answers_and_tokens_by_query(
    http: httpx.AsyncClient, client: AsyncOpenAI
) -> None:
    a = await client.chat.completions.create(model="gpt-4o-mini", messages=user("one"))
    again = await client.chat.completions.create(model="other", messages=user("one"))
    b = await client.chat.completions.create(model="gpt-4o-mini", messages=user("two"))
    failing = await http.post("/v1/chat/completions", json={"model": "gpt-4o-mini"})
    assert failing.status_code == 400  # refused: nothing served
    assert a.usage is not None and again.usage is not None and b.usage is not None
    served = (await http.get("/sim/served")).json()["served"]
    assert served == [
        {
            "query": "one",
            "answers": 2,
            "prompt_tokens": a.usage.prompt_tokens + again.usage.prompt_tokens,
            "completion_tokens": a.usage.completion_tokens + again.usage.completion_tokens,
        },
        {
            "query": "two",
            "answers": 1,
            "prompt_tokens": b.usage.prompt_tokens,
            "completion_tokens": b.usage.completion_tokens,
        },
    ]
    await http.post("/sim/reset")
    assert (await http.get("/sim/served")).json() == {"served": []}


async def test_health_and_unknown_routes(http: httpx.AsyncClient) -> None:
    assert (await http.get("/sim/health")).json() == {"status": "ok"}
    assert (await http.get("/nope")).status_code == 404
    assert (await http.get("/v1/chat/completions")).status_code == 405
