"""The CLI waits out the host's per-caller request rate, and only that."""

from __future__ import annotations

import httpx
import pytest

from agentops.cli import main as cli


def _client(answers: list[httpx.Response]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    return httpx.Client(base_url="http://127.0.0.1:1", transport=httpx.MockTransport(handler))


def _problem(kind: str, retry_after: str) -> httpx.Response:
    body = {"type": f"https://agentops.dev/problems/{kind}", "title": kind, "status": 429,
            "detail": "slow down"}  # fmt: skip
    return httpx.Response(429, json=body, headers={"Retry-After": retry_after})


def test_a_request_rate_refusal_is_waited_out(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(cli.time, "sleep", waits.append)
    client = _client([_problem("too-many-requests", "3"), httpx.Response(200, json={"ok": 1})])
    assert cli._request(client, "GET", "/api/agents") == {"ok": 1}
    assert waits == [3]


@pytest.mark.parametrize(
    "refusal",
    [_problem("budget-exceeded", "3"), _problem("too-many-requests", "3600")],
    ids=["a spent budget", "a long wait"],
)
def test_other_429s_are_errors_that_say_why(
    monkeypatch: pytest.MonkeyPatch, refusal: httpx.Response
) -> None:
    monkeypatch.setattr(cli.time, "sleep", lambda _: pytest.fail("should not wait"))
    with pytest.raises(cli.CliError, match="429"):
        cli._request(_client([refusal]), "GET", "/api/agents")
