"""Plain and streaming completions through the real OpenAI SDK."""

from __future__ import annotations

import asyncio
import hashlib

import httpx
import openai
import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI

from devhost.simulator.tokens import estimate_prompt_tokens, estimate_tokens
from tests.devhost.simulator.conftest import user


async def test_plain_answer_echoes_a_digest_and_reports_usage(client: AsyncOpenAI) -> None:
    messages = user("What is the capital of France?")
    result = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)

    choice = result.choices[0]
    digest = hashlib.sha256(b"What is the capital of France?").hexdigest()[:8]
    assert choice.message.content == f'Simulated answer {digest}: "What is the capital of France?".'
    assert choice.finish_reason == "stop"
    assert result.model == "gpt-4o-mini"
    assert result.usage is not None
    assert result.usage.prompt_tokens == estimate_prompt_tokens(messages, [])
    assert result.usage.completion_tokens == estimate_tokens(choice.message.content)
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


async def test_same_messages_same_answer_different_messages_different_answer(
    client: AsyncOpenAI,
) -> None:
    async def ask(text: str) -> str | None:
        result = await client.chat.completions.create(model="gpt-4o-mini", messages=user(text))
        return result.choices[0].message.content

    first, again, other = await ask("ping"), await ask("ping"), await ask("pong")
    assert first == again
    assert first != other


async def test_streaming_pieces_add_up_to_the_plain_answer_with_usage_last(
    client: AsyncOpenAI,
) -> None:
    messages = user("Tell me a story about a lighthouse keeper")
    plain = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)

    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert len(chunks) > 5  # one piece per token, not one blob
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert all(f is None for f in finishes[:-1])
    assert chunks[-1].choices == []
    assert chunks[-1].usage == plain.usage
    assert all(c.usage is None for c in chunks[:-1])


async def test_streaming_without_include_usage_has_no_usage_chunk(client: AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=user("hi"), stream=True
    )
    chunks = [chunk async for chunk in stream]
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_azure_path_takes_the_deployment_from_the_url(
    azure_client: AsyncAzureOpenAI, client: AsyncOpenAI
) -> None:
    result = await azure_client.chat.completions.create(model="other", messages=user("hello"))
    expected = await client.chat.completions.create(model="other", messages=user("hello"))
    assert result.model == "other"
    assert result.choices[0].message.content == expected.choices[0].message.content


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
async def test_max_tokens_truncates_with_finish_reason_length(
    client: AsyncOpenAI, param: str
) -> None:
    messages = user("Explain how a circuit breaker works in distributed systems")
    full = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    short = await client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, **{param: 3}
    )
    assert short.choices[0].finish_reason == "length"
    assert short.usage is not None and short.usage.completion_tokens == 3
    content = short.choices[0].message.content or ""
    assert len(content) == 12
    assert (full.choices[0].message.content or "").startswith(content)


async def test_answer_tokens_pads_answers_to_the_configured_size(start_simulator) -> None:
    async with (
        start_simulator(answer_tokens=200) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        result = await client.chat.completions.create(model="m", messages=user("pad me"))
    assert result.usage is not None and result.usage.completion_tokens == 200
    assert (result.choices[0].message.content or "").startswith("Simulated answer")


async def test_models_lists_configured_deployments(client: AsyncOpenAI) -> None:
    models = [m.id async for m in client.models.list()]
    assert models == ["gpt-4o-mini", "other"]


async def test_strict_deployments_answer_404_for_unknown_ones(start_simulator) -> None:
    async with (
        start_simulator(deployments=["known"], strict_deployments=True) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        await client.chat.completions.create(model="known", messages=user("x"))
        with pytest.raises(openai.NotFoundError) as caught:
            await client.chat.completions.create(model="unknown", messages=user("x"))
    assert caught.value.code == "DeploymentNotFound"


async def test_api_key_is_enforced_when_configured(start_simulator) -> None:
    async with start_simulator(api_key="right") as sim:
        async with AsyncOpenAI(base_url=sim.url, api_key="wrong", max_retries=0) as client:
            with pytest.raises(openai.AuthenticationError):
                await client.chat.completions.create(model="m", messages=user("x"))
        async with AsyncOpenAI(base_url=sim.url, api_key="right", max_retries=0) as client:
            await client.chat.completions.create(model="m", messages=user("x"))
        azure = AsyncAzureOpenAI(
            azure_endpoint=sim.azure_endpoint, api_key="right", api_version="2024-10-21"
        )
        async with azure:
            await azure.chat.completions.create(model="m", messages=user("x"))


async def test_content_filter_phrase_gets_azures_400(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=user("please [simulate-content-filter] now")
        )
    assert caught.value.code == "content_filter"


async def test_sync_azure_client_in_a_thread(sim) -> None:
    def call() -> str | None:
        with openai.AzureOpenAI(
            azure_endpoint=sim.azure_endpoint,
            api_key="k",
            api_version="2024-10-21",
            max_retries=0,
        ) as client:
            result = client.chat.completions.create(model="gpt-4o-mini", messages=user("sync"))
            return result.choices[0].message.content

    content = await asyncio.to_thread(call)
    assert content is not None and '"sync"' in content


async def test_plain_chat_path_without_v1_is_served(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/chat/completions", json={"model": "m", "messages": user("no prefix")}
    )
    assert response.status_code == 200
    assert response.json()["object"] == "chat.completion"
