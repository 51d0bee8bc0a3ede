"""Files and Batches endpoints through the real OpenAI SDK, in OpenAI's and Azure's URL shapes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI
from openai.types.chat import ChatCompletion

from devhost.__main__ import _simulator_app
from devhost.durable.clock import EngineClock
from devhost.simulator.server import RunningSimulator
from tests.devhost.simulator.conftest import StartSimulator, user


def request_line(custom_id: str, body: dict[str, Any], url: str = "/v1/chat/completions") -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": body})


def bodies(count: int) -> dict[str, dict[str, Any]]:
    return {
        f"item-{i}": {"model": "gpt-4o-mini", "messages": user(f"question number {i}")}
        for i in range(count)
    }


async def submit(
    client: AsyncOpenAI, lines: list[str], endpoint: str = "/v1/chat/completions", **kwargs: Any
) -> Any:
    upload = await client.files.create(
        file=("requests.jsonl", ("\n".join(lines) + "\n").encode()), purpose="batch"
    )
    return await client.batches.create(
        input_file_id=upload.id, endpoint=endpoint, completion_window="24h", **kwargs
    )


async def rows(client: AsyncOpenAI, file_id: str | None) -> dict[str, dict[str, Any]]:
    if file_id is None:
        return {}
    content = await client.files.content(file_id)
    return {row["custom_id"]: row for row in map(json.loads, content.text.splitlines())}


async def control(sim: RunningSimulator, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=f"http://{sim.host}:{sim.port}") as http:
        response = await http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()


@pytest.fixture
async def openai_client(start_simulator: StartSimulator) -> AsyncIterator[AsyncOpenAI]:
    async with (
        start_simulator(deployments=["gpt-4o-mini"]) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        client.sim = sim  # type: ignore[attr-defined]
        yield client


async def test_a_batch_answers_each_line_as_the_chat_route_does(openai_client: AsyncOpenAI) -> None:
    client = openai_client
    requests = bodies(5)
    tools = [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "add two numbers",
                "parameters": {
                    "type": "object",
                    "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                    "required": ["a", "b"],
                },
            },
        }
    ]
    requests["tool"] = {"model": "gpt-4o-mini", "messages": user("add 2 and 3"), "tools": tools}
    requests["capped"] = {"model": "gpt-4o-mini", "messages": user("x " * 50), "max_tokens": 2}
    lines = [request_line(cid, body) for cid, body in requests.items()]

    created = await submit(client, lines, metadata={"run": "r1"})
    assert created.status == "validating"
    assert created.metadata == {"run": "r1"}
    batch = await client.batches.retrieve(created.id)
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed) == (7, 7)
    assert batch.request_counts.failed == 0
    assert batch.error_file_id is None
    assert batch.in_progress_at is not None and batch.completed_at is not None
    assert batch.finalizing_at is not None

    output = await rows(client, batch.output_file_id)
    assert list(output) == list(requests)  # input order
    for custom_id, body in requests.items():
        chat = await client.chat.completions.create(**body)
        row = output[custom_id]
        assert row["error"] is None
        assert row["id"].startswith("batch_req_")
        assert row["response"]["status_code"] == 200
        answer = ChatCompletion.model_validate(row["response"]["body"])
        assert answer.choices == chat.choices
        assert answer.usage == chat.usage
        assert answer.model == chat.model
    assert output["tool"]["response"]["body"]["choices"][0]["message"]["tool_calls"][0][
        "function"
    ] == {"name": "add", "arguments": '{"a":2,"b":3}'}

    stats = await control(client.sim, "GET", "/sim/stats")  # type: ignore[attr-defined]
    assert stats["batches"]["uploads"] == 1
    assert stats["batches"]["creates"] == 1
    assert stats["batches"]["retrieves"] == 1
    assert stats["batches"]["content_downloads"] == 1
    assert stats["batches"]["lines"] == {"completed": 7}
    assert stats["batches"]["by_status"] == {"completed": 1}
    assert stats["requests"] == 7  # the chat calls above; batch lines are not chat requests
    served = await control(client.sim, "GET", "/sim/served")  # type: ignore[attr-defined]
    assert {row["answers"] for row in served["served"]} == {2}  # each once by batch, once by chat


async def test_invalid_lines_get_the_chat_routes_400_in_the_error_file(
    openai_client: AsyncOpenAI,
) -> None:
    lines = [
        request_line("good", {"model": "gpt-4o-mini", "messages": user("hi")}),
        request_line("no-messages", {"model": "gpt-4o-mini"}),
        request_line(
            "filtered", {"model": "gpt-4o-mini", "messages": user("[simulate-content-filter]")}
        ),
    ]
    batch = await openai_client.batches.retrieve((await submit(openai_client, lines)).id)
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (1, 2)
    errors = await rows(openai_client, batch.error_file_id)
    assert errors["no-messages"]["response"]["status_code"] == 400
    assert errors["no-messages"]["response"]["body"]["error"]["param"] == "messages"
    assert errors["filtered"]["response"]["body"]["error"]["code"] == "content_filter"
    assert list(await rows(openai_client, batch.output_file_id)) == ["good"]


async def test_an_invalid_input_file_fails_the_batch_with_line_errors(
    openai_client: AsyncOpenAI,
) -> None:
    lines = [
        request_line("a", {"model": "gpt-4o-mini", "messages": user("hi")}),
        request_line("a", {"model": "gpt-4o-mini", "messages": user("again")}),
        "not json",
        request_line("b", {"model": "gpt-4o-mini", "messages": user("hi")}, url="/v1/embeddings"),
    ]
    batch = await openai_client.batches.retrieve((await submit(openai_client, lines)).id)
    assert batch.status == "failed"
    assert batch.failed_at is not None
    assert batch.errors is not None and batch.errors.data is not None
    found = [(e.code, e.line) for e in batch.errors.data]
    assert found == [("duplicate_custom_id", 2), ("invalid_json_line", 3), ("invalid_url", 4)]
    assert batch.output_file_id is None and batch.error_file_id is None


async def test_failed_line_rate_puts_server_errors_in_the_error_file(
    start_simulator: StartSimulator,
) -> None:
    async with (
        start_simulator(batches={"failed_line_rate": 0.2}) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        requests = bodies(200)
        created = await submit(client, [request_line(c, b) for c, b in requests.items()])
        batch = await client.batches.retrieve(created.id)
        output = await rows(client, batch.output_file_id)
        errors = await rows(client, batch.error_file_id)
        again = [request_line(c, requests[c]) for c in errors]
        retried = await client.batches.retrieve((await submit(client, again)).id)
        retried_output = await rows(client, retried.output_file_id)
        retried_errors = await rows(client, retried.error_file_id)
    assert batch.request_counts is not None
    assert batch.request_counts.failed == len(errors)
    assert 20 <= len(errors) <= 60  # about a fifth
    assert set(output) | set(errors) == set(requests) and not set(output) & set(errors)
    for row in errors.values():
        assert row["response"]["status_code"] == 500
        assert row["response"]["body"]["error"]["type"] == "server_error"
    # Draws are per batch: the failed lines sent again mostly succeed, as a retry round would.
    assert len(retried_errors) < len(errors) / 2
    assert set(retried_output) | set(retried_errors) == set(errors)


async def test_delay_follows_the_batch_clock_through_each_status(
    start_simulator: StartSimulator,
) -> None:
    async with (
        start_simulator(batches={"delay_s": 3600, "finalize_s": 60}) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        created = await submit(client, [request_line(c, b) for c, b in bodies(10).items()])
        seen = [(await client.batches.retrieve(created.id)).status]
        await control(sim, "POST", "/sim/batches/advance", {"seconds": 1800})
        half = await client.batches.retrieve(created.id)
        await control(sim, "POST", "/sim/batches/advance", {"seconds": 1800})
        seen.append((await client.batches.retrieve(created.id)).status)
        advanced = await control(sim, "POST", "/sim/batches/advance", {"seconds": 60})
        done = await client.batches.retrieve(created.id)
    assert seen == ["in_progress", "finalizing"]
    assert half.status == "in_progress"
    assert half.request_counts is not None and half.request_counts.completed == 5
    assert advanced["batches"] == {"completed": 1}
    assert done.status == "completed"
    assert done.completed_at is not None and done.completed_at - done.created_at == 3660


async def test_a_batch_past_its_window_expires_with_the_rest_in_the_error_file(
    start_simulator: StartSimulator,
) -> None:
    async with (
        start_simulator(batches={"delay_s": 1000, "expire_after_s": 400}) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        created = await submit(client, [request_line(c, b) for c, b in bodies(10).items()])
        await control(sim, "POST", "/sim/batches/advance", {"seconds": 400})
        batch = await client.batches.retrieve(created.id)
        output = await rows(client, batch.output_file_id)
        errors = await rows(client, batch.error_file_id)
    assert batch.status == "expired"
    assert batch.expired_at == batch.expires_at
    assert list(output) == [f"item-{i}" for i in range(4)]
    assert list(errors) == [f"item-{i}" for i in range(4, 10)]
    for row in errors.values():
        assert row["response"] is None
        assert row["error"]["code"] == "batch_expired"


async def test_cancel_passes_through_cancelling_and_keeps_the_lines_done(
    start_simulator: StartSimulator,
) -> None:
    async with (
        start_simulator(batches={"delay_s": 100, "cancel_s": 30}) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        created = await submit(client, [request_line(c, b) for c, b in bodies(10).items()])
        await control(sim, "POST", "/sim/batches/advance", {"seconds": 50})
        cancelling = await client.batches.cancel(created.id)
        await control(sim, "POST", "/sim/batches/advance", {"seconds": 30})
        cancelled = await client.batches.retrieve(created.id)
        output = await rows(client, cancelled.output_file_id)
        errors = await rows(client, cancelled.error_file_id)
        with pytest.raises(openai.ConflictError):
            await client.batches.cancel(created.id)
        stats = await control(sim, "GET", "/sim/stats")
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_at == cancelling.cancelling_at + 30
    assert len(output) == 5
    assert {row["error"]["code"] for row in errors.values()} == {"batch_cancelled"}
    assert stats["batches"]["cancels"] == 2
    assert stats["batches"]["refused"] == 1
    assert stats["batches"]["lines"] == {"completed": 5, "cancelled": 5}


async def test_limits_on_lines_bytes_and_enqueued_tokens_are_refused(
    start_simulator: StartSimulator,
) -> None:
    fields = {"max_lines": 3, "max_file_bytes": 2000, "delay_s": 100}
    async with (
        start_simulator(batches={**fields, "enqueued_tokens": {"gpt-4o-mini": 40}}) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        requests = [request_line(c, b) for c, b in bodies(4).items()]
        too_long = await client.batches.retrieve((await submit(client, requests)).id)
        with pytest.raises(openai.BadRequestError) as too_big:
            await client.files.create(file=("big.jsonl", b"x" * 2001), purpose="batch")
        first = await client.batches.retrieve((await submit(client, requests[:2])).id)
        refused = await client.batches.retrieve((await submit(client, requests[2:])).id)
        queued = (await control(sim, "GET", "/sim/stats"))["batches"]["enqueued_tokens"]
        await control(sim, "POST", "/sim/batches/advance", {"seconds": 100})
        after = await client.batches.retrieve((await submit(client, requests[2:])).id)
    assert too_long.status == "failed"
    assert too_long.errors is not None and too_long.errors.data is not None
    assert too_long.errors.data[0].code == "batch_request_limit_exceeded"
    assert too_big.value.status_code == 400
    assert too_big.value.body["param"] == "file"  # type: ignore[index]
    assert first.status == "in_progress"
    assert refused.status == "failed"
    assert refused.errors is not None and refused.errors.data is not None
    assert refused.errors.data[0].code == "token_limit_exceeded"
    assert 0 < queued["gpt-4o-mini"] <= 40
    assert after.status == "in_progress"  # the first batch finished and left the queue


async def test_azure_url_shape_files_and_batches(start_simulator: StartSimulator) -> None:
    async with (
        start_simulator(deployments=["gpt-4o-mini-batch"]) as sim,
        AsyncAzureOpenAI(
            azure_endpoint=sim.azure_endpoint,
            api_key="k",
            api_version="2024-10-21",
            max_retries=0,
        ) as client,
    ):
        body = {"model": "gpt-4o-mini-batch", "messages": user("hello from azure")}
        upload = await client.files.create(
            file=("in.jsonl", request_line("one", body, url="/chat/completions").encode()),
            purpose="batch",
        )
        assert (await client.files.retrieve(upload.id)).bytes == upload.bytes
        listed = [f.id async for f in client.files.list(purpose="batch")]
        created = await client.batches.create(
            input_file_id=upload.id, endpoint="/chat/completions", completion_window="24h"
        )
        batch = await client.batches.retrieve(created.id)
        output = await rows(client, batch.output_file_id)
        chat = await client.chat.completions.create(**body)
        deleted = await client.files.delete(upload.id)
        with pytest.raises(openai.NotFoundError):
            await client.files.retrieve(upload.id)
        with pytest.raises(openai.NotFoundError):
            await client.batches.retrieve("batch_unknown")
    assert listed == [upload.id]
    assert batch.status == "completed" and batch.endpoint == "/chat/completions"
    answer = output["one"]["response"]["body"]["choices"][0]["message"]["content"]
    assert answer == chat.choices[0].message.content
    assert deleted.deleted


async def test_listing_batches_pages_newest_first(openai_client: AsyncOpenAI) -> None:
    lines = [request_line("a", {"model": "gpt-4o-mini", "messages": user("hi")})]
    ids = [(await submit(openai_client, lines)).id for _ in range(5)]
    first = await openai_client.batches.list(limit=2)
    assert [b.id for b in first.data] == ids[::-1][:2]
    assert first.has_more
    every = [b.id async for b in openai_client.batches.list(limit=2)]
    assert every == ids[::-1]
    outputs = [f.id async for f in openai_client.files.list(purpose="batch_output")]
    assert len(outputs) == 5  # each batch completed when listed


async def test_the_api_key_guards_files_and_batches(start_simulator: StartSimulator) -> None:
    async with (
        start_simulator(api_key="secret") as sim,
        AsyncOpenAI(base_url=sim.url, api_key="wrong", max_retries=0) as client,
    ):
        with pytest.raises(openai.AuthenticationError):
            await client.files.create(file=("a.jsonl", b"{}"), purpose="batch")
        with pytest.raises(openai.AuthenticationError):
            await client.batches.list()


async def test_knobs_change_through_patch_and_frozen_per_batch(
    openai_client: AsyncOpenAI,
) -> None:
    sim = openai_client.sim  # type: ignore[attr-defined]
    lines = [request_line(c, b) for c, b in bodies(2).items()]
    await control(sim, "PATCH", "/sim/config", {"batches": {"delay_s": 10}})
    slow = await submit(openai_client, lines)
    await control(sim, "PATCH", "/sim/config", {"batches": {"delay_s": 0}})
    fast = await submit(openai_client, lines)
    assert (await openai_client.batches.retrieve(fast.id)).status == "completed"
    assert (await openai_client.batches.retrieve(slow.id)).status == "in_progress"
    config = await control(sim, "GET", "/sim/config")
    assert config["batches"]["delay_s"] == 0


async def test_devhost_time_skipping_carries_the_batch_clock() -> None:
    """devhost hands its durable clock to the simulator: a skip to a timer ends the delay."""
    engine = SimpleNamespace(clock=EngineClock(), time_skipping=True)
    app = _simulator_app({"SIM_BATCH_DELAY_S": "3600"}, engine)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://sim/v1") as http,
        AsyncOpenAI(base_url="http://sim/v1", api_key="k", http_client=http) as client,
    ):
        created = await submit(client, [request_line(c, b) for c, b in bodies(2).items()])
        assert (await client.batches.retrieve(created.id)).status == "in_progress"
        engine.clock.advance_to(engine.clock.now() + timedelta(seconds=3600))
        assert (await client.batches.retrieve(created.id)).status == "completed"
