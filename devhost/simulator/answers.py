"""Deterministic completions: the same request always gets the same answer.

- The last user message scripts a call, ``[simulate-tool-call {"name": ..., "arguments": ...,
  "rounds": n}]`` (JSON; ``arguments`` an object or a raw string, ``rounds`` default 1): that
  call, offered or not, in each of the first ``n`` replies after that message, unless
  ``tool_choice`` is ``none``. This plays a misbehaving model: an undeclared tool, a name with
  control characters, arguments of the wrong type, a loop that never ends.
- The last message is a user message and an offered tool fits (see ``tools``): a tool call.
- The conversation ends with tool results: a text answer quoting each result.
- Otherwise: ``Simulated answer <digest>: "<first 80 characters of the last user message>".``
  where ``<digest>`` is the first 8 hex digits of the SHA-256 of the last user message's text.
  With ``answer_tokens`` set the answer is padded with filler words to about that many tokens.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from devhost.simulator.tokens import CHARS_PER_TOKEN, content_text, estimate_tokens
from devhost.simulator.tools import plan_tool_call
from devhost.simulator.validation import ChatRequest

SCRIPTED_CALL = "[simulate-tool-call "
_SNIPPET_CHARS = 80
_RESULT_CHARS = 500
_FILLER = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Completion:
    """What the simulated model says: text or one tool call."""

    content: str | None
    tool_calls: list[dict[str, Any]] | None
    finish_reason: str
    completion_tokens: int


def digest(text: str) -> str:
    """The 8 hex digits an answer echoes for ``text``."""
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def complete(request: ChatRequest, answer_tokens: int | None) -> Completion:
    messages = request.messages
    last = messages[-1]
    scripted = _scripted_call(messages, request.tool_choice)
    if scripted is not None:
        return scripted
    if last.get("role") == "user":
        query = content_text(last.get("content"))
        call = plan_tool_call(query, request.tools, request.tool_choice)
        if call is not None:
            arguments = json.dumps(call.arguments, separators=(",", ":"))
            call_id = "call_" + hashlib.sha256(f"{query}\0{arguments}".encode()).hexdigest()[:24]
            tool_call = {
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": arguments},
            }
            tokens = estimate_tokens(call.name) + estimate_tokens(arguments)
            return Completion(None, [tool_call], "tool_calls", tokens)
    if last.get("role") == "tool":
        text = _tool_results_answer(messages)
    else:
        text = _echo_answer(_last_user_text(messages), answer_tokens)
    return _limit(text, request.max_tokens)


def _scripted_call(
    messages: list[dict[str, Any]], tool_choice: str | dict[str, Any]
) -> Completion | None:
    if tool_choice == "none":
        return None
    position = next(
        (i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "user"), None
    )
    if position is None:
        return None
    text = content_text(messages[position].get("content"))
    start = text.find(SCRIPTED_CALL)
    if start < 0:
        return None
    try:
        script, _ = json.JSONDecoder().raw_decode(text, start + len(SCRIPTED_CALL))
    except json.JSONDecodeError:
        return None
    if not isinstance(script, dict) or not isinstance(script.get("name"), str):
        return None
    replies = sum(1 for message in messages[position + 1 :] if message.get("role") == "assistant")
    if replies >= int(script.get("rounds", 1)):
        return None
    arguments = script.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, separators=(",", ":"))
    name = script["name"]
    call_id = "call_" + hashlib.sha256(f"{text}\0{replies}".encode()).hexdigest()[:24]
    tool_call = {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }
    tokens = estimate_tokens(name) + estimate_tokens(arguments)
    return Completion(None, [tool_call], "tool_calls", tokens)


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return content_text(messages[-1].get("content"))


def _echo_answer(query: str, answer_tokens: int | None) -> str:
    key = digest(query)
    snippet = " ".join(query.split())
    if len(snippet) > _SNIPPET_CHARS:
        snippet = snippet[:_SNIPPET_CHARS] + "..."
    text = f'Simulated answer {key}: "{snippet}".'
    if answer_tokens is not None:
        target = answer_tokens * CHARS_PER_TOKEN
        seed = bytes.fromhex(hashlib.sha256(query.encode()).hexdigest())
        words = [text]
        length = len(text)
        i = 0
        while length < target:
            word = _FILLER[seed[i % len(seed)] % len(_FILLER)]
            words.append(word)
            length += len(word) + 1
            i += 1
        text = " ".join(words)[:target]
    return text


def _tool_results_answer(messages: list[dict[str, Any]]) -> str:
    """Quote every tool result that follows the last assistant message."""
    names: dict[str, str] = {}
    results: list[tuple[str, str]] = []
    for message in messages:
        role = message.get("role")
        if role == "assistant":
            results = []
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                names[str(call.get("id"))] = str(function.get("name", "tool"))
        elif role == "tool":
            name = names.get(str(message.get("tool_call_id")), "tool")
            result = content_text(message.get("content"))[:_RESULT_CHARS]
            results.append((name, result))
    quoted = "; ".join(f"{name} returned {result}" for name, result in results)
    return f"Tool results: {quoted}."


def _limit(text: str, max_tokens: int | None) -> Completion:
    tokens = estimate_tokens(text)
    if max_tokens is not None and tokens > max_tokens:
        return Completion(text[: max_tokens * CHARS_PER_TOKEN], None, "length", max_tokens)
    return Completion(text, None, "stop", tokens)
