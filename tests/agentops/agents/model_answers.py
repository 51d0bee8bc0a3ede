"""A mock transport's answers, shaped like a model's: for a request with tools whose last message
is the user's, a call to ``add``; otherwise text."""

from __future__ import annotations

import json
from typing import Any

import httpx2


def answer_like_a_model(request: httpx2.Request) -> httpx2.Response:
    body = json.loads(request.content)
    if body.get("tools") and body["messages"][-1]["role"] == "user":
        call = {"name": "add", "arguments": json.dumps({"a": 2, "b": 3})}
        tool_call = {"id": "call_1", "type": "function", "function": call}
        message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [tool_call]}
        finish = "tool_calls"
    else:
        message, finish = {"role": "assistant", "content": "Five."}, "stop"
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37},
        },
    )
