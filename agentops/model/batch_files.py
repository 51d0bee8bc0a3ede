"""Batch API files: the JSONL input a batch is created from, and the output and error files.

An input line carries the chat completion body as the SDK would post it, byte for byte (the body
is spliced in, not re-encoded), with ``custom_id`` = the item's index. Input is split into files
within the provider's limits on requests and bytes per file. Output and error lines come back
keyed by ``custom_id`` in any order; each becomes a ``LineResult``: the chat completion, or why
the line failed and whether another round may help.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

# The chat completions path a line names: OpenAI wants the /v1 prefix, Azure OpenAI does not.
OPENAI_URL = "/v1/chat/completions"
AZURE_URL = "/chat/completions"

# Statuses of a failed line worth another round: throttled, or the service's fault.
_RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
# Line errors that are about the batch, not the request (the item did not get its turn).
_RETRYABLE_CODES = frozenset({"batch_expired", "batch_cancelled", "rate_limit_exceeded"})


@dataclass(frozen=True, slots=True)
class FileLimits:
    """What one input file may hold (OpenAI: 50,000 requests, 200 MB; Azure Global Batch:
    100,000 requests, 200 MB)."""

    max_requests: int = 50_000
    max_bytes: int = 200 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_requests < 1 or self.max_bytes < 1:
            raise ValueError("file limits must be positive")


@dataclass(frozen=True, slots=True)
class BatchFile:
    content: bytes
    indexes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SplitFiles:
    files: list[BatchFile] = field(default_factory=list)
    # Items whose one line is larger than a whole file may be: no file can carry them.
    too_large: list[int] = field(default_factory=list)


def input_line(index: int, body: bytes, *, url: str = OPENAI_URL) -> bytes:
    """One JSONL line (newline included) for the item ``index`` with its request ``body``."""
    if b"\n" in body or b"\r" in body:
        raise ValueError("a request body must be compact JSON on one line")
    head = json.dumps({"custom_id": str(index), "method": "POST", "url": url})
    return head[:-1].encode() + b', "body": ' + body + b"}\n"


def split_files(lines: Iterable[tuple[int, bytes]], limits: FileLimits) -> SplitFiles:
    """Pack ``(index, line)`` pairs, in order, into as few files as the limits allow."""
    result = SplitFiles()
    content = bytearray()
    indexes: list[int] = []
    for index, line in lines:
        if len(line) > limits.max_bytes:
            result.too_large.append(index)
            continue
        full = len(indexes) >= limits.max_requests or len(content) + len(line) > limits.max_bytes
        if indexes and full:
            result.files.append(BatchFile(bytes(content), tuple(indexes)))
            content, indexes = bytearray(), []
        content += line
        indexes.append(index)
    if indexes:
        result.files.append(BatchFile(bytes(content), tuple(indexes)))
    return result


@dataclass(frozen=True, slots=True)
class LineResult:
    index: int
    response: dict[str, Any] | None = None  # the chat completion, when the line succeeded
    reason: str | None = None  # why it failed, never quoting the request
    retryable: bool = False


def parse_results(lines: Iterable[bytes | str]) -> Iterator[LineResult]:
    """Results of an output or error file, line by line; a line that is not ours is an error."""
    for raw in lines:
        text = raw.decode() if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        record = json.loads(text)
        custom_id = record.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id.isdigit():
            raise ValueError(f"a result line with an unknown custom_id: {custom_id!r:.40}")
        yield _result(int(custom_id), record)


def _result(index: int, record: dict[str, Any]) -> LineResult:
    error = record.get("error")
    if error:
        code = str(error.get("code") or "error")
        return LineResult(index, reason=f"batch: {code}", retryable=code in _RETRYABLE_CODES)
    response = record.get("response") or {}
    status = response.get("status_code")
    body = response.get("body")
    if status == 200 and isinstance(body, dict) and body.get("choices"):
        return LineResult(index, response=body)
    detail = body.get("error") if isinstance(body, dict) else None
    code = detail.get("code") or detail.get("type") if isinstance(detail, dict) else None
    return LineResult(
        index,
        reason=f"batch: status {status}" + (f" ({code})" if code else ""),
        retryable=status in _RETRYABLE_STATUSES,
    )
