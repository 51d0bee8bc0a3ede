"""Agent Framework's own Functions hosting (`AgentFunctionApp`) served by devhost, against the
model simulator: one conversation (session), two messages, the conversation read back.

`agent-framework-azurefunctions` requires azure-functions<2 and python-dateutil<3, which the
project's environment does not take (azure-functions 2.x), so the main test run skips this test
and `scripts/af-hosting-check.sh` (called by scripts/test.sh) runs it in a venv layered over the
project's, where it must run (AGENTOPS_REQUIRE_AF_HOSTING=1).
"""

from __future__ import annotations

import os

import httpx
import pytest

from devhost.testing import start_devhost

from .conftest import APPS

if not os.environ.get("AGENTOPS_REQUIRE_AF_HOSTING"):
    pytest.importorskip("agent_framework_azurefunctions")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_a_conversation_of_two_messages_is_kept_in_the_agent_entity():
    with start_devhost(
        APPS / "agent_function_app", simulator=True, simulator_setting="MODEL_ENDPOINT"
    ) as devhost:
        answers = []
        for message in ("Tell me a joke", "Another one"):
            response = httpx.post(
                devhost.url("/api/agents/Joker/run"),
                json={"message": message, "session_id": "thread-1"},
                headers=devhost.function_headers,
                timeout=60,
            )
            assert response.status_code == 200, (response.text, devhost.output)
            answers.append(response.json())
        assert [a["status"] for a in answers] == ["success", "success"]
        assert [a["message_count"] for a in answers] == [2, 4]
        assert all(a["session_id"] == "thread-1" for a in answers)

        # The conversation, read back from the agent's entity through the Durable HTTP API.
        state = httpx.get(
            devhost.url("/runtime/webhooks/durabletask/entities/dafx-Joker/thread-1"),
            headers=devhost.durable_headers,
        )
        assert state.status_code == 200, state.text
        history = state.json()["data"]["conversationHistory"]
        said = [
            (entry["$type"], content["text"])
            for entry in history
            for message in entry["messages"]
            for content in message["contents"]
        ]
        assert [kind for kind, _ in said] == ["request", "response", "request", "response"]
        assert [text for kind, text in said if kind == "request"] == [
            "Tell me a joke",
            "Another one",
        ]
        assert [text for kind, text in said if kind == "response"] == [
            answers[0]["response"],
            answers[1]["response"],
        ]
