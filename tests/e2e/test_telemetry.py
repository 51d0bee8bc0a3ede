"""Telemetry end to end: devhost with OTLP pointed at a receiver these tests start.

Agent Framework's spans and the app's log lines arrive over OTLP/HTTP, and nothing a caller wrote
(the query, an e-mail address in it) is in any of it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from devhost.testing import Devhost, start_devhost
from tests.e2e.conftest import OPERATOR, PROJECT_ROOT, app_env
from tests.otlp_receiver import Receiver, otlp_receiver

pytestmark = pytest.mark.slow

SECRET_QUERY = "please summarise the memo for ada.lovelace@example.com about project nightjar"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with otlp_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def traced_host(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Devhost]:
    env = app_env(
        tmp_path_factory.mktemp("otlp"),
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        OTEL_SERVICE_NAME="agentops-e2e",
        # Export within a fraction of a second, so the test need not wait for the defaults.
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_BLRP_SCHEDULE_DELAY="100",
        OTEL_METRIC_EXPORT_INTERVAL="300",
        ENABLE_SENSITIVE_DATA="true",  # asked for, and still not captured
    )
    with start_devhost(
        PROJECT_ROOT, env=env, simulator=True, simulator_setting="MODEL_ENDPOINT"
    ) as host:
        yield host


def test_spans_metrics_and_logs_reach_the_collector_without_user_text(
    traced_host: Devhost, receiver: Receiver
) -> None:
    headers = {**traced_host.function_headers, **OPERATOR}
    answered = httpx.post(
        traced_host.url("/api/agents/summarizer/run"),
        json={"query": SECRET_QUERY},
        headers=headers,
        timeout=30,
    )
    assert answered.status_code == 200, answered.text

    receiver.wait_for("/v1/traces")
    receiver.wait_for("/v1/logs")
    receiver.wait_for("/v1/metrics")
    services = {service for _, service in receiver.spans()}
    assert services == {"agentops-e2e"}
    names = [name for name, _ in receiver.spans()]
    assert any(name.startswith("chat ") for name in names), names  # Agent Framework's own
    deadline = time.monotonic() + 10  # the reader exports on its interval
    while not any(name.startswith("gen_ai.client") for name in receiver.metric_names()):
        assert time.monotonic() < deadline, receiver.metric_names()
        time.sleep(0.1)
    for post in receiver.posts:
        for secret in (b"ada.lovelace", b"nightjar", answered.json()["answer"][:40].encode()):
            assert secret not in post.body, post.path
