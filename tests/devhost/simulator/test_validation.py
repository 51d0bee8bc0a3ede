"""Bad requests get 400 with OpenAI's error shape and change nothing."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from tests.devhost.simulator.conftest import user

CASES: list[tuple[str, Any, str | None, str | None]] = [
    ("not json", b"{not json", None, None),
    ("array body", [1, 2], None, "invalid_type"),
    ("missing model", {"messages": user("x")}, "model", "missing_required_parameter"),
    ("missing messages", {"model": "m"}, "messages", "missing_required_parameter"),
    ("messages not a list", {"model": "m", "messages": "hi"}, "messages", "invalid_type"),
    ("empty messages", {"model": "m", "messages": []}, "messages", "empty_array"),
    ("message not object", {"model": "m", "messages": [3]}, "messages[0]", "invalid_type"),
    (
        "bad role",
        {"model": "m", "messages": [{"role": "robot", "content": "x"}]},
        "messages[0].role",
        "invalid_value",
    ),
    (
        "content wrong type",
        {"model": "m", "messages": [{"role": "user", "content": 5}]},
        "messages[0].content",
        "invalid_type",
    ),
    (
        "tool message without id",
        {"model": "m", "messages": [{"role": "tool", "content": "5"}]},
        "messages[0].tool_call_id",
        "missing_required_parameter",
    ),
    ("max_tokens string", {"model": "m", "messages": user("x"), "max_tokens": "9"}, "max_tokens",
     "invalid_type"),
    ("max_tokens zero", {"model": "m", "messages": user("x"), "max_tokens": 0}, "max_tokens",
     "integer_below_min_value"),
    ("temperature high", {"model": "m", "messages": user("x"), "temperature": 3}, "temperature",
     "decimal_above_max_value"),
    ("temperature type", {"model": "m", "messages": user("x"), "temperature": "hot"},
     "temperature", "invalid_type"),
    ("n above one", {"model": "m", "messages": user("x"), "n": 2}, "n", "unsupported_value"),
    ("stream not bool", {"model": "m", "messages": user("x"), "stream": "yes"}, "stream",
     "invalid_type"),
    (
        "stream_options without stream",
        {"model": "m", "messages": user("x"), "stream_options": {"include_usage": True}},
        "stream_options",
        "invalid_value",
    ),
    ("tools not list", {"model": "m", "messages": user("x"), "tools": {}}, "tools", "invalid_type"),
    (
        "tool without name",
        {"model": "m", "messages": user("x"), "tools": [{"type": "function", "function": {}}]},
        "tools[0].function.name",
        "missing_required_parameter",
    ),
    ("tool_choice unknown", {"model": "m", "messages": user("x"), "tool_choice": "maybe"},
     "tool_choice", "invalid_value"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "param", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_bad_request_gets_openai_error_shape(
    http: httpx.AsyncClient, body: Any, param: str | None, code: str | None
) -> None:
    if isinstance(body, bytes):
        response = await http.post("/v1/chat/completions", content=body)
    else:
        response = await http.post("/v1/chat/completions", json=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["code"] == code
    assert error["message"]


async def test_bad_requests_are_counted_and_serve_nothing(http: httpx.AsyncClient) -> None:
    await http.post("/v1/chat/completions", json={"model": "m"})
    stats = (await http.get("/sim/stats")).json()
    assert stats["by_status"] == {"400": 1}
    assert stats["tokens"]["total"] == 0


async def test_sdk_raises_bad_request_with_param(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="m", messages=user("x"), temperature=5)
    assert caught.value.param == "temperature"
    assert caught.value.status_code == 400


async def test_valid_optional_fields_are_accepted(http: httpx.AsyncClient) -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "parts"}]},
        ],
        "temperature": 0,
        "n": 1,
        "user": "someone",
        "seed": 4,
    }
    response = await http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert '"parts"' in response.json()["choices"][0]["message"]["content"]
