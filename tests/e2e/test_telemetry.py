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
from tests.e2e.conftest import OPERATOR, PROJECT_ROOT, app_env, start_run, wait_run
from tests.otlp_receiver import Receiver, SpanRecord, otlp_receiver

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


def test_a_run_is_one_trace_from_the_request_to_its_model_calls(
    traced_host: Devhost, receiver: Receiver
) -> None:
    headers = {**traced_host.function_headers, **OPERATOR}
    with httpx.Client(base_url=traced_host.base_url, headers=headers, timeout=30) as api:
        queries = [f"add {n} and {n + 1}" for n in range(3)]
        run_id = start_run(api, "calculator", queries, batch_size=2)["runId"]
        view = wait_run(api, run_id)
    assert view["status"] == "completed"
    trace_id = view["traceId"]
    assert trace_id and len(trace_id) == 32

    def ours() -> list[SpanRecord]:
        return [s for s in receiver.span_records() if s.trace_id == trace_id]

    wanted = {"POST /api/agents/{agent}/runs", "activity run_agent_batch", "activity finalize_run"}
    deadline = time.monotonic() + 10  # the processors export on their schedule
    while not (wanted <= {s.name for s in ours()} and _count(ours(), "run item") == 3):
        assert time.monotonic() < deadline, sorted({s.name for s in ours()})
        time.sleep(0.1)
    spans = ours()
    (request,) = [s for s in spans if s.name == "POST /api/agents/{agent}/runs"]
    assert request.attributes["http.response.status_code"] == 202
    assert _count(spans, "activity run_agent_batch") == 2  # 3 items, 2 per batch
    items = [s for s in spans if s.name == "run item"]
    assert {s.attributes["agentops.run.id"] for s in items} == {run_id}
    assert sorted(s.attributes["agentops.item.index"] for s in items) == [0, 1, 2]
    deadline = time.monotonic() + 10
    while _count(ours(), "chat ", prefix=True) < 3:
        assert time.monotonic() < deadline, sorted({s.name for s in ours()})
        time.sleep(0.1)
    # Every span of the run's items, in this trace: none was left in a trace of its own.
    run_items = [
        s for s in receiver.span_records() if s.attributes.get("agentops.run.id") == run_id
    ]
    assert {s.trace_id for s in run_items} == {trace_id}
    # The model calls hang under the items, the items under the activities.
    by_id = {s.span_id: s for s in spans}
    for chat in (s for s in ours() if s.name.startswith("chat ")):
        assert "run item" in _ancestors(chat, by_id)
    for item in items:
        assert _ancestors(item, by_id)[:2] == [
            "activity run_agent_batch",
            "POST /api/agents/{agent}/runs",
        ]


def _count(spans: list[SpanRecord], name: str, *, prefix: bool = False) -> int:
    return sum(1 for s in spans if (s.name.startswith(name) if prefix else s.name == name))


def _ancestors(span: SpanRecord, by_id: dict[str, SpanRecord]) -> list[str]:
    names = []
    while span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        names.append(span.name)
    return names
