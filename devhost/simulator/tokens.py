"""A deterministic token estimate: about four characters per token, as OpenAI's rule of thumb.

The same functions count the prompt for the TPM check and for ``usage``, and the completion for
``usage`` and ``max_tokens``, so the figures a client sees always agree with each other.
"""

from __future__ import annotations

import json
from typing import Any

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 3  # role and separators, as OpenAI's cookbook counts them
TOKENS_PER_REPLY = 3  # the primer of the assistant's reply


def estimate_tokens(text: str) -> int:
    """``ceil(len(text) / 4)``: empty text costs nothing."""
    return -(-len(text) // CHARS_PER_TOKEN)


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def estimate_prompt_tokens(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
    """Messages' text and tool calls, plus the tool definitions as compact JSON."""
    total = TOKENS_PER_REPLY
    for message in messages:
        total += TOKENS_PER_MESSAGE + estimate_tokens(content_text(message.get("content")))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            total += estimate_tokens(str(function.get("name", "")))
            total += estimate_tokens(str(function.get("arguments", "")))
    if tools:
        total += estimate_tokens(json.dumps(tools, separators=(",", ":")))
    return total
