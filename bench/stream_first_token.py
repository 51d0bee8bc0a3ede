"""Time to the first streamed token against the JSON route's time to answer.

    .venv/bin/python bench/stream_first_token.py [--asks 15] [--first-token-ms 300]
        [--token-ms 20] [--answer-tokens 100]

Starts the app under devhost with its model simulator (first token after `--first-token-ms`,
then one token every `--token-ms`), warms it up, then alternates the two forms of
`POST /api/agents/summarizer/run` with distinct queries (no cache hits): JSON (time to the whole
answer) and `Accept: text/event-stream` (time to the first `delta` event, and to `done`).
Prints the median and p90 of each, in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from devhost.testing import start_devhost  # noqa: E402
from tests.e2e.conftest import OPERATOR, app_env  # noqa: E402

ROUTE = "/api/agents/summarizer/run"


def _json_ask(client: httpx.Client, query: str) -> float:
    started = time.perf_counter()
    response = client.post(ROUTE, json={"query": query})
    response.raise_for_status()
    return time.perf_counter() - started


def _streamed_ask(client: httpx.Client, query: str) -> tuple[float, float]:
    started = time.perf_counter()
    first: float | None = None
    with client.stream(
        "POST", ROUTE, json={"query": query}, headers={"Accept": "text/event-stream"}
    ) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if first is None and line == "event: delta":
                first = time.perf_counter() - started
            if line == "event: error":
                raise RuntimeError("the streamed answer failed")
    if first is None:
        raise RuntimeError("no delta event arrived")
    return first, time.perf_counter() - started


def _summary(label: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return f"{label:<34} median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asks", type=int, default=15)
    parser.add_argument("--first-token-ms", type=int, default=300)
    parser.add_argument("--token-ms", type=int, default=20)
    parser.add_argument("--answer-tokens", type=int, default=100)
    args = parser.parse_args()

    env = app_env(
        Path(tempfile.mkdtemp(prefix="bench-stream-")),
        SIM_LATENCY_MS=str(args.first_token_ms),
        SIM_TOKEN_LATENCY_MS=str(args.token_ms),
        SIM_ANSWER_TOKENS=str(args.answer_tokens),
    )
    with (
        start_devhost(ROOT, env=env, simulator=True, simulator_setting="MODEL_ENDPOINT") as host,
        httpx.Client(
            base_url=host.base_url, headers={**host.function_headers, **OPERATOR}, timeout=60
        ) as client,
    ):
        _json_ask(client, "warm up the json route")
        _streamed_ask(client, "warm up the streamed route")
        answer_s: list[float] = []
        first_s: list[float] = []
        done_s: list[float] = []
        for index in range(args.asks):
            answer_s.append(_json_ask(client, f"json question {index}"))
            first, done = _streamed_ask(client, f"streamed question {index}")
            first_s.append(first)
            done_s.append(done)

    print(
        f"simulator: first token {args.first_token_ms} ms, {args.answer_tokens} tokens "
        f"at {args.token_ms} ms each; {args.asks} asks of each form"
    )
    print(_summary("JSON: time to the answer", answer_s))
    print(_summary("stream: time to the first delta", first_s))
    print(_summary("stream: time to done", done_s))
    ratio = statistics.median(first_s) / statistics.median(answer_s)
    print(f"first streamed token at {ratio:.0%} of the JSON route's time to answer")


if __name__ == "__main__":
    main()
