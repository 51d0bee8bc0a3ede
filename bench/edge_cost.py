"""What each check at the HTTP edge costs on the request path, in microseconds per request.

Runs the edge's own functions in-process (no HTTP), each next to a baseline that does the same
job without the check, so the difference is the check's price:
    .venv/bin/python bench/edge_cost.py
"""

from __future__ import annotations

import base64
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from agentops.auth import principal_from_headers
from agentops.model.types import Usage
from agentops.request_limits import RequestLimiter
from agentops.runs.requests import AskRequest, RequestLimits, RunRequest
from agentops.runs.run_service import RunSnapshot
from agentops.store.records import Item, ItemCounts, ItemStatus, ItemTotals, Run, RunStatus
from tests.triggers.http_requests import http_request
from triggers.edge import _json_body
from triggers.responses import RunView


def _time(call: Callable[[], object], budget_s: float = 0.5) -> float:
    """Median microseconds per call over a few rounds."""
    rounds: list[float] = []
    for _ in range(5):
        count, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < budget_s / 5:
            call()
            count += 1
        rounds.append(elapsed / count * 1e6)
    return statistics.median(rounds)


def _principal_header() -> dict[str, str]:
    claims = [
        {"typ": "tid", "val": "contoso"},
        {"typ": "oid", "val": "00000000-0000-0000-0000-000000000001"},
        {"typ": "name", "val": "Ada"},
        *({"typ": "roles", "val": f"role-{n}"} for n in range(5)),
    ]
    document = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": "roles"}
    return {"x-ms-client-principal": base64.b64encode(json.dumps(document).encode()).decode()}


def _read_body(body: bytes, limit: int) -> object:
    """The edge's body reading on a fresh request, as a route gets it. The request's body is
    already in memory, so the coroutine never waits: driven here without an event loop."""
    request = http_request("POST", "http://127.0.0.1/api/agents/a/runs", body=body)
    reading = _json_body(request, limit)
    try:
        reading.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("reading an in-memory body waited")


def _snapshot(items: int) -> RunSnapshot:
    now = datetime.now(UTC)
    run = Run("r" * 32, "local", "local", "calculator", items, now, instance_id="r" * 32)
    return RunSnapshot(
        run=run,
        status=RunStatus.COMPLETED,
        runtime_status="Completed",
        progress={"done": items},
        totals=ItemTotals(ItemCounts(0, items, 0), Usage(10 * items, 5 * items), 0.01),
        items=[
            Item("r" * 32, n, "q", ItemStatus.COMPLETED, "answer " * 20, None, 1, Usage(10, 5))
            for n in range(items)
        ],
        next_after=None,
    )


def main() -> None:
    rows: list[tuple[str, float, float]] = []
    header = _principal_header()
    rows.append(
        (
            "principal (Easy Auth header)",
            _time(lambda: json.loads(base64.b64decode(header["x-ms-client-principal"]))),
            _time(lambda: principal_from_headers(header, trusted=True)),
        )
    )
    principal = principal_from_headers(header, trusted=True)
    limiter = RequestLimiter(tenant_per_minute=10**9, user_per_minute=10**9)
    rows.append(("request rate (tenant + user)", 0.0, _time(lambda: limiter.check(principal))))
    limits = RequestLimits()
    for count in (1, 1000, 10_000):
        body = json.dumps({"queries": [f"what is {n} plus {n}?" for n in range(count)]}).encode()
        rows.append(
            (
                f"run body, {count:,} queries",
                _time(lambda body=body: json.loads(body)),
                _time(
                    lambda body=body: RunRequest.model_validate(
                        _read_body(body, 64 << 20), context=limits
                    )
                ),
            )
        )
    ask = json.dumps({"query": "hello there", "thread_id": "a" * 32}).encode()
    rows.append(
        (
            "ask body",
            _time(lambda: json.loads(ask)),
            _time(lambda: AskRequest.model_validate(_read_body(ask, 1 << 20))),
        )
    )
    snapshot = _snapshot(100)
    plain = {"items": [{"index": i.index, "answer": i.answer} for i in snapshot.items]}
    rows.append(
        (
            "run view, 100 items",
            _time(lambda: json.dumps(plain)),
            _time(lambda: RunView.of(snapshot, None).to_json()),
        )
    )
    print(f"{'check':32} {'baseline µs':>12} {'with check µs':>14} {'cost µs':>9}")
    for name, baseline, checked in rows:
        print(f"{name:32} {baseline:12.1f} {checked:14.1f} {checked - baseline:9.1f}")


if __name__ == "__main__":
    main()
