"""Per-deployment RPM and TPM quotas answered like Azure OpenAI."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from devhost.simulator.config import DeploymentLimits
from devhost.simulator.ratelimit import DeploymentLimiter
from tests.devhost.simulator.conftest import user


async def test_rpm_quota_answers_429_with_azure_headers_and_body(start_simulator) -> None:
    # 120 RPM over a 1 s window: 2 requests at once, then one every 0.5 s.
    async with (
        start_simulator(limits={"m": {"rpm": 120, "window_s": 1}}) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        first = await client.chat.completions.with_raw_response.create(
            model="m", messages=user("one")
        )
        assert first.headers["x-ratelimit-limit-requests"] == "120"
        assert first.headers["x-ratelimit-remaining-requests"] == "1"
        await client.chat.completions.create(model="m", messages=user("two"))
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="m", messages=user("three"))

        headers = caught.value.response.headers
        assert headers["retry-after"] == "1"
        assert 1 <= int(headers["retry-after-ms"]) <= 500
        assert headers["x-ratelimit-remaining-requests"] == "0"
        assert caught.value.code == "429"
        assert "exceeded requests rate limit" in caught.value.message

        await asyncio.sleep(int(headers["retry-after-ms"]) / 1000)
        await client.chat.completions.create(model="m", messages=user("after the wait"))

        # another deployment has no quota: no limit headers, never refused
        other = await client.chat.completions.with_raw_response.create(
            model="free", messages=user("x")
        )
        assert "x-ratelimit-remaining-requests" not in other.headers


async def test_tpm_counts_prompt_estimate_plus_max_tokens(start_simulator) -> None:
    # 600 TPM over 6 s: a budget of 60 tokens, refilling 10 per second.
    async with (
        start_simulator(limits={"m": {"tpm": 600, "window_s": 6}}) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        ok = await client.chat.completions.with_raw_response.create(
            model="m", messages=user("hi"), max_tokens=40
        )
        prompt_tokens = ok.parse().usage.prompt_tokens
        remaining = int(ok.headers["x-ratelimit-remaining-tokens"])
        assert remaining == 60 - (prompt_tokens + 40)
        assert ok.headers["x-ratelimit-limit-tokens"] == "600"

        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="m", messages=user("hi"), max_tokens=40)
        assert "exceeded tokens rate limit" in caught.value.message
        wait_ms = int(caught.value.response.headers["retry-after-ms"])
        # short by (prompt + 40) - remaining tokens at 10 tokens per second
        assert wait_ms == pytest.approx((prompt_tokens + 40 - remaining) * 100, abs=60)

        # a small request still fits
        await client.chat.completions.create(model="m", messages=user("hi"), max_tokens=1)


async def test_a_client_paced_at_the_quota_sees_no_429(start_simulator) -> None:
    # 1,200 RPM over a 1 s window: 20 per second.
    async with (
        start_simulator(limits={"*": {"rpm": 1200, "window_s": 1}}) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        start = time.monotonic()
        for i in range(30):
            await asyncio.sleep(max(0.0, start + i / 20 - time.monotonic()))
            await client.chat.completions.create(model="paced", messages=user(str(i)))

        # twice the quota, all at once: the bucket runs dry
        results = await asyncio.gather(
            *(
                client.chat.completions.create(model="greedy", messages=user(str(i)))
                for i in range(40)
            ),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, openai.RateLimitError)]
        assert 15 <= len(refused) <= 21
        async with httpx.AsyncClient() as http:
            stats = (await http.get(f"{sim.azure_endpoint}/sim/stats")).json()
    assert stats["deployments"]["paced"]["by_status"] == {"200": 30}
    assert stats["deployments"]["greedy"]["by_status"]["429"] == len(refused)


def test_limiter_paced_exactly_at_quota_for_ten_minutes_is_never_refused() -> None:
    limiter = DeploymentLimiter(DeploymentLimits(rpm=600, tpm=60_000, window_s=10), now=0.0)
    refused = 0
    for i in range(6000):  # 10 per second, 100 tokens each: exactly both quotas
        refused += not limiter.admit(prompt_tokens=60, max_tokens=40, now=i / 10).allowed
    assert refused == 0


def test_limiter_at_ten_percent_over_quota_refuses_about_the_excess() -> None:
    limiter = DeploymentLimiter(DeploymentLimits(rpm=600, window_s=10), now=0.0)
    attempts = 6600
    refused = sum(
        not limiter.admit(prompt_tokens=1, max_tokens=None, now=i / 11).allowed
        for i in range(attempts)
    )
    # 600 per minute over the 10 minutes minus the 100 in the initial budget
    assert refused == pytest.approx(attempts - 6000 - 100, abs=2)


def test_request_larger_than_the_budget_is_refused_for_a_window() -> None:
    limiter = DeploymentLimiter(
        DeploymentLimits(tpm=60, window_s=10, default_max_tokens=5), now=0.0
    )
    admission = limiter.admit(prompt_tokens=100, max_tokens=None, now=0.0)
    assert not admission.allowed
    assert admission.exhausted == "tokens"
    assert admission.retry_after_s == 10
    assert limiter.admit(prompt_tokens=4, max_tokens=None, now=0.0).allowed  # 4 + 5 <= 10
