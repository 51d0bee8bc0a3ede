"""Response bodies in OpenAI's and Azure OpenAI's wire format."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from devhost.simulator.answers import Completion
from devhost.simulator.tokens import CHARS_PER_TOKEN

_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def dumps(value: Any) -> bytes:
    return _DUMPS(value).encode()


def error_body(
    message: str, type_: str | None, param: str | None = None, code: str | None = None
) -> bytes:
    return dumps({"error": {"message": message, "type": type_, "param": param, "code": code}})


def rate_limit_body(retry_after_s: int, what: str) -> bytes:
    """Azure OpenAI's 429 text, which clients and people recognise."""
    message = (
        f"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version"
        f" 2024-10-21 have exceeded {what} rate limit of your current OpenAI S0 pricing tier."
        f" Please retry after {retry_after_s} seconds."
        " Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase"
        " the default rate limit."
    )
    return dumps({"error": {"code": "429", "message": message, "type": None, "param": None}})


def content_filter_body() -> bytes:
    return dumps(
        {
            "error": {
                "message": "The response was filtered due to the prompt triggering Azure OpenAI's"
                " content management policy. Please modify your prompt and retry.",
                "type": None,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
                "innererror": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_result": {
                        "hate": {"filtered": False, "severity": "safe"},
                        "self_harm": {"filtered": False, "severity": "safe"},
                        "sexual": {"filtered": False, "severity": "safe"},
                        "violence": {"filtered": True, "severity": "high"},
                    },
                },
            }
        }
    )


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion_body(
    completion_id: str, created: int, model: str, completion: Completion, prompt_tokens: int
) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": completion.content}
    if completion.tool_calls is not None:
        message["tool_calls"] = completion.tool_calls
    return dumps(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_simulator",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": completion.finish_reason,
                }
            ],
            "usage": usage(prompt_tokens, completion.completion_tokens),
        }
    )


def stream_events(
    completion_id: str,
    created: int,
    model: str,
    completion: Completion,
    prompt_tokens: int,
    include_usage: bool,
) -> Iterator[bytes]:
    """SSE events, one content piece per token, then the finish, the usage and ``[DONE]``."""
    base = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_simulator",
    }
    if include_usage:
        base["usage"] = None

    def event(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return b"data: " + dumps({**base, "choices": [choice]}) + b"\n\n"

    if completion.tool_calls is not None:
        call = completion.tool_calls[0]
        function = call["function"]
        yield event(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": 0,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": function["name"], "arguments": ""},
                    }
                ],
            }
        )
        for piece in _pieces(function["arguments"]):
            yield event({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    else:
        yield event({"role": "assistant", "content": ""})
        for piece in _pieces(completion.content or ""):
            yield event({"content": piece})
    yield event({}, completion.finish_reason)
    if include_usage:
        final = {**base, "choices": [], "usage": usage(prompt_tokens, completion.completion_tokens)}
        yield b"data: " + dumps(final) + b"\n\n"
    yield b"data: [DONE]\n\n"


def _pieces(text: str) -> Iterator[str]:
    for start in range(0, len(text), CHARS_PER_TOKEN):
        yield text[start : start + CHARS_PER_TOKEN]
