"""Injected faults, by schedule and by seeded rate, as the OpenAI SDK sees them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from devhost.simulator.server import RunningSimulator
from tests.devhost.simulator.conftest import user


async def outcome(client: AsyncOpenAI, model: str = "m", text: str = "q") -> str:
    """The status a call ended with, as a string; errors other than HTTP ones by class name."""
    try:
        await client.chat.completions.create(model=model, messages=user(text))
    except openai.APIStatusError as exc:
        return str(exc.status_code)
    except openai.APIError as exc:
        return type(exc).__name__
    return "200"


async def stats_of(sim: RunningSimulator) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{sim.azure_endpoint}/sim/stats")).json()


def always(fault: str, **faults: Any) -> dict[str, Any]:
    return {"faults": {"schedule": [{"fault": fault}], **faults}}


async def test_injected_429_carries_the_configured_retry_after(start_simulator) -> None:
    async with (
        start_simulator(**always("429", retry_after_ms=2500)) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="m", messages=user("x"))
    assert caught.value.response.headers["retry-after-ms"] == "2500"
    assert caught.value.response.headers["retry-after"] == "3"


@pytest.mark.parametrize(("fault", "error"), [("500", openai.InternalServerError), ("503", None)])
async def test_injected_server_errors(start_simulator, fault: str, error: type | None) -> None:
    async with (
        start_simulator(**always(fault)) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model="m", messages=user("x"))
        stats = await stats_of(sim)
    assert caught.value.status_code == int(fault)
    assert caught.value.type == "server_error"
    if error is not None:
        assert isinstance(caught.value, error)
    assert stats["faults"] == {fault: 1}
    assert stats["tokens"]["total"] == 0


async def test_slow_response_past_the_client_timeout(start_simulator) -> None:
    async with (
        start_simulator(**always("timeout", timeout_s=30)) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0, timeout=0.3) as client,
    ):
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model="m", messages=user("x"))
        assert time.monotonic() - started < 2
        for _ in range(100):  # the server notices the client leaving and stops stalling
            stats = await stats_of(sim)
            if stats["client_gone"]:
                break
            await asyncio.sleep(0.02)
    assert stats["client_gone"] == 1
    assert stats["in_flight"] == 0


async def test_slow_response_arrives_for_a_patient_client(start_simulator) -> None:
    async with (
        start_simulator(**always("timeout", timeout_s=0.3)) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0, timeout=5) as client,
    ):
        started = time.monotonic()
        result = await client.chat.completions.create(model="m", messages=user("x"))
    assert time.monotonic() - started >= 0.3
    assert result.choices[0].message.content


async def test_dropped_connection_is_a_connection_error(start_simulator) -> None:
    async with (
        start_simulator(
            faults={"schedule": [{"requests": 1}, {"requests": 1, "fault": "drop"}]}
        ) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0, timeout=5) as client,
    ):
        assert await outcome(client) == "200"  # opens a keep-alive connection
        started = time.monotonic()
        with pytest.raises(openai.APIConnectionError) as caught:
            await client.chat.completions.create(model="m", messages=user("x"))
        assert not isinstance(caught.value, openai.APITimeoutError)
        assert time.monotonic() - started < 1
        assert await outcome(client) == "200"  # the client reconnects
        stats = await stats_of(sim)
    assert stats["dropped"] == 1
    assert stats["by_status"] == {"200": 2, "dropped": 1}


async def test_dropped_connection_sends_no_bytes(start_simulator) -> None:
    async with start_simulator(**always("drop")) as sim:
        reader, writer = await asyncio.open_connection(sim.host, sim.port)
        body = b'{"model":"m","messages":[{"role":"user","content":"x"}]}'
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        received = await asyncio.wait_for(reader.read(), timeout=2)
        writer.close()
    assert received == b""


async def test_schedule_by_requests(start_simulator) -> None:
    schedule = [{"requests": 3}, {"requests": 2, "fault": "503"}, {"requests": 1, "fault": "500"}]
    async with (
        start_simulator(faults={"schedule": schedule}) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        outcomes = [await outcome(client) for _ in range(8)]
    assert outcomes == ["200", "200", "200", "503", "503", "500", "200", "200"]


async def test_schedule_by_time_starts_at_the_first_request(start_simulator) -> None:
    schedule = [{"requests": 1}, {"duration_s": 0.4, "fault": "503"}]
    async with (
        start_simulator(faults={"schedule": schedule}) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        await asyncio.sleep(0.5)  # idle time before the first request does not count
        assert await outcome(client) == "200"
        during = [await outcome(client) for _ in range(3)]
        phase = (await stats_of(sim))["schedule"]["*"]
        await asyncio.sleep(0.45)
        after = await outcome(client)
        done = (await stats_of(sim))["schedule"]["*"]
    assert during == ["503"] * 3
    assert phase["phase"] == 1 and phase["fault"] == "503"
    assert after == "200"
    assert done["phase"] == "done"


async def test_repeating_schedule_cycles(start_simulator) -> None:
    schedule = [{"requests": 2}, {"requests": 1, "fault": "500"}]
    async with (
        start_simulator(faults={"schedule": schedule, "repeat": True}) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        outcomes = [await outcome(client) for _ in range(7)]
    assert outcomes == ["200", "200", "500", "200", "200", "500", "200"]


async def test_seeded_rates_are_reproducible(start_simulator) -> None:
    rates = {"429": 0.2, "500": 0.1, "503": 0.1}

    async def run(seed: int) -> list[str]:
        async with (
            start_simulator(seed=seed, faults={"rates": rates}) as sim,
            AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
        ):
            return [await outcome(client, text=str(i)) for i in range(60)]

    first, again, other = await run(7), await run(7), await run(8)
    assert first == again
    assert first != other
    assert 0.15 <= first.count("200") / 60 <= 0.95
    assert {"200", "429", "500", "503"} >= set(first)


async def test_faults_scoped_to_one_deployment(start_simulator) -> None:
    async with (
        start_simulator(
            deployment_faults={"flaky": {"schedule": [{"fault": "503"}]}},
            faults={"schedule": [{"requests": 1, "fault": "500"}]},
        ) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        flaky = [await outcome(client, model="flaky") for _ in range(3)]
        steady = [await outcome(client, model="steady") for _ in range(3)]
        models = [m.id async for m in client.models.list()]
    assert flaky == ["503"] * 3
    assert steady == ["500", "200", "200"]  # the default plan is untouched by 'flaky'
    assert "flaky" in models


async def test_rate_limited_and_faulty_responses_still_carry_quota_headers(
    start_simulator,
) -> None:
    async with (
        start_simulator(limits={"m": {"rpm": 600}}, **always("500")) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model="m", messages=user("x"))
    assert caught.value.response.headers["x-ratelimit-remaining-requests"] == "599"
