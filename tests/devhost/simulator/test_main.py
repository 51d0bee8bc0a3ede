"""``python -m devhost.simulator`` as a separate process, as benchmarks run it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from openai import OpenAI

from devhost import testing
from tests.devhost.simulator.conftest import user


@pytest.fixture
def simulator_process() -> Iterator[str]:
    with testing.simulator_process("--latency-ms", "5", "--limits", '{"m": {"rpm": 6000}}') as url:
        yield url


def test_module_serves_with_its_flags(simulator_process: str) -> None:
    with OpenAI(base_url=simulator_process, api_key="k", max_retries=0) as client:
        response = client.chat.completions.with_raw_response.create(
            model="m", messages=user("from a process")
        )
    assert response.headers["x-ratelimit-limit-requests"] == "6000"
    assert '"from a process"' in (response.parse().choices[0].message.content or "")


def test_bad_flags_exit_non_zero_with_the_reason() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devhost.simulator", "--faults", '{"rates": {"500": 2}}'],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "faults.rates.500" in result.stderr
