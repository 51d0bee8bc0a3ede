"""Streamed answers on the synchronous route, through devhost and a slow model simulator.

The simulator waits `SIM_LATENCY_MS` before the first token and `SIM_TOKEN_LATENCY_MS` between
tokens, so an answer of `SIM_ANSWER_TOKENS` tokens takes about a second: long enough to tell a
stream that flushes each piece from one buffered to the end.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from devhost.testing import Devhost, start_devhost
from tests.e2e.conftest import OPERATOR, PROJECT_ROOT, app_env
from triggers.stream_responses import EVENT_NAMES

pytestmark = pytest.mark.slow

FIRST_TOKEN_MS = 150
TOKEN_MS = 25
ANSWER_TOKENS = 40
SSE = {"Accept": "text/event-stream"}


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devhost]:
    tmp = tmp_path_factory.mktemp("sse")
    env = app_env(
        tmp,
        SIM_LATENCY_MS=str(FIRST_TOKEN_MS),
        SIM_TOKEN_LATENCY_MS=str(TOKEN_MS),
        SIM_ANSWER_TOKENS=str(ANSWER_TOKENS),
        # Budgets large enough never to refuse: they make the store count what was billed.
        AGENT_BUDGETS=json.dumps({a: {"tokens": 10**9} for a in ("summarizer", "calculator")}),
        PRICES=json.dumps({"gpt-4o-mini": {"input_per_1k": 0.15, "output_per_1k": 0.6}}),
    )
    with start_devhost(
        PROJECT_ROOT, env=env, simulator=True, simulator_setting="MODEL_ENDPOINT"
    ) as devhost:
        devhost.db_path = tmp / "agentops.db"  # type: ignore[attr-defined]
        # Warm up (services, agents, connections) so timings measure answers, not start-up.
        warm = httpx.post(
            devhost.url("/api/agents/summarizer/run"),
            json={"query": "warm up"},
            headers={**devhost.function_headers, **OPERATOR},
            timeout=30,
        )
        assert warm.status_code == 200, warm.text
        yield devhost


@pytest.fixture
def api(host: Devhost) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=host.base_url, headers={**host.function_headers, **OPERATOR}, timeout=30
    ) as client:
        yield client


def parse_events(chunks: Iterator[str]) -> Iterator[tuple[str, dict[str, Any], float]]:
    """(name, data, arrival time) per event; each event must be `event:` then one `data:`."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            lines = block.split("\n")
            assert len(lines) == 2, block
            assert lines[0].startswith("event: ") and lines[1].startswith("data: "), block
            name = lines[0].removeprefix("event: ")
            assert name in EVENT_NAMES, name
            yield name, json.loads(lines[1].removeprefix("data: ")), time.perf_counter()
    assert buffer == "", f"trailing bytes after the last event: {buffer!r}"


def billed(host: Devhost, agent: str) -> tuple[int, float]:
    """What the store counted against the agent's budget today: tokens and cost."""
    day = datetime.now(UTC).date().isoformat()
    with sqlite3.connect(host.db_path) as db:  # type: ignore[attr-defined]
        try:
            row = db.execute(
                "SELECT tokens, cost FROM usage WHERE scope = ? AND day = ?",
                (f"agent:{agent}", day),
            ).fetchone()
        except sqlite3.OperationalError:  # the app makes its tables on first use
            return 0, 0.0
    return (int(row[0]), float(row[1])) if row else (0, 0.0)


def sim_stats(host: Devhost) -> dict[str, Any]:
    return httpx.get(f"{host.simulator_url}/sim/stats", timeout=5).json()


def test_first_event_arrives_long_before_the_answer_ends(host: Devhost, api: httpx.Client) -> None:
    before = billed(host, "summarizer")
    started = time.perf_counter()
    with api.stream(
        "POST", "/api/agents/summarizer/run", json={"query": "stream this please"}, headers=SSE
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        events = list(parse_events(response.iter_text()))
    ended = time.perf_counter()

    names = [name for name, _, _ in events]
    assert names[-1] == "done" and names.count("done") == 1
    assert set(names[:-1]) == {"delta"} and len(names) > 10
    first_at = events[0][2] - started
    total = ended - started
    # Tokens arrive one by one: the first long before the last.
    assert total > (ANSWER_TOKENS * TOKEN_MS) / 1000 * 0.8
    assert first_at < total / 2, (first_at, total)

    done = events[-1][1]
    assert "".join(data["text"] for name, data, _ in events if name == "delta") == done["answer"]
    assert done["usage"]["completionTokens"] == ANSWER_TOKENS
    assert done["cost"] > 0
    tokens, cost = billed(host, "summarizer")
    assert tokens - before[0] == done["usage"]["totalTokens"]
    assert cost - before[1] == pytest.approx(done["cost"])

    # The exchange is stored: the thread continues from it (as JSON this time).
    follow = api.post(
        "/api/agents/summarizer/run", json={"query": "and again", "thread_id": done["threadId"]}
    )
    assert follow.status_code == 200, follow.text
    assert follow.json()["messages"] == 4


def test_a_disconnect_stops_the_model_call_and_bills_what_was_generated(
    host: Devhost, api: httpx.Client
) -> None:
    before = billed(host, "summarizer")
    cut_before = sim_stats(host)
    query = "a long answer I will not wait for"
    with api.stream(
        "POST", "/api/agents/summarizer/run", json={"query": query}, headers=SSE
    ) as response:
        assert response.status_code == 200
        for received, (name, _, _) in enumerate(parse_events(response.iter_text()), 1):
            assert name == "delta"
            if received == 5:
                break  # leaving the block closes the connection

    deadline = time.monotonic() + 10
    while True:
        stats = sim_stats(host)
        if stats["streams_cut"] > cut_before["streams_cut"]:
            break
        assert time.monotonic() < deadline, "the simulator never saw the stream closed"
        time.sleep(0.05)
    sent = stats["cut_tokens_sent"] - cut_before["cut_tokens_sent"]
    assert 5 <= sent < ANSWER_TOKENS  # stopped well before the end
    assert stats["in_flight"] == 0

    served = {s["query"]: s for s in httpx.get(f"{host.simulator_url}/sim/served").json()["served"]}
    prompt = served[query]["prompt_tokens"]
    deadline = time.monotonic() + 5
    while (spent := billed(host, "summarizer")[0] - before[0]) == 0:
        assert time.monotonic() < deadline, "the cut stream was not billed"
        time.sleep(0.05)
    # Billed: the prompt, estimated (a cut stream never reports usage), and the tokens that
    # reached the app, which are what the simulator sent; never the whole answer.
    assert abs(spent - (prompt + sent)) <= max(8, prompt // 4), (spent, prompt, sent)
    assert spent < prompt + ANSWER_TOKENS


def test_tool_calls_stream_as_events(api: httpx.Client) -> None:
    with api.stream(
        "POST", "/api/agents/calculator/run", json={"query": "add 2 and 3"}, headers=SSE
    ) as response:
        assert response.status_code == 200
        events = [(name, data) for name, data, _ in parse_events(response.iter_text())]
    names = [name for name, _ in events]
    call = next(data for name, data in events if name == "tool_call")
    assert call["name"] == "add"
    assert {"callId": call["callId"]} in [data for name, data in events if name == "tool_result"]
    assert names.index("tool_call") < names.index("tool_result") < names.index("delta")
    assert names[-1] == "done"
    assert events[-1][1]["usage"]["totalTokens"] > 0


def test_a_failure_mid_stream_ends_with_an_error_event(api: httpx.Client) -> None:
    # The tool raises on a zero divisor, after its call was streamed: the item fails.
    with api.stream(
        "POST", "/api/agents/calculator/run", json={"query": "divide 1 by 0"}, headers=SSE
    ) as response:
        assert response.status_code == 200
        events = [(name, data) for name, data, _ in parse_events(response.iter_text())]
    assert events[0][0] == "tool_call"
    name, problem = events[-1]
    assert name == "error"
    assert problem["status"] == 422 and problem["type"].endswith("/model-refused")
    assert {"type", "title", "status", "detail"} <= problem.keys()


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        (SSE, b"{not json", 400),
        (SSE, b'{"query": ""}', 400),
        ({"Accept": "image/png"}, b'{"query": "hi"}', 406),
        ({"Accept": "text/event-stream;q=x"}, b'{"query": "hi"}', 406),
    ],
)
def test_bad_accept_or_body_get_problem_json(
    api: httpx.Client, headers: dict[str, str], body: bytes, status: int
) -> None:
    response = api.post(
        "/api/agents/summarizer/run",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_refusals_before_the_stream_keep_their_status(api: httpx.Client) -> None:
    response = api.post(
        "/api/agents/summarizer/run",
        json={"query": "hi", "thread_id": "0" * 32},
        headers=SSE,
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_openapi_document_describes_the_event_stream(api: httpx.Client) -> None:
    document = api.get("/api/openapi.json").json()
    ok = document["paths"]["/api/agents/{agent}/run"]["post"]["responses"]["200"]
    assert set(ok["content"]) == {"application/json", "text/event-stream"}
    assert "delta" in ok["content"]["text/event-stream"]["schema"]["description"]
