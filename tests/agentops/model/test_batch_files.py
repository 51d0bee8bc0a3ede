"""Batch input files within the provider's limits, and the output and error files read back."""

from __future__ import annotations

import json

import pytest

from agentops.model.batch_files import (
    AZURE_URL,
    OPENAI_URL,
    FileLimits,
    input_line,
    parse_results,
    split_files,
)

BODY = b'{"messages":[{"role":"user","content":"a \\"quoted\\"\\nline \\u00fc"}],"model":"m"}'


def test_a_line_carries_the_body_byte_for_byte() -> None:
    line = input_line(7, BODY)
    assert line.endswith(b"}\n") and line.count(b"\n") == 1
    assert BODY in line
    record = json.loads(line)
    assert record == {
        "custom_id": "7",
        "method": "POST",
        "url": OPENAI_URL,
        "body": json.loads(BODY),
    }
    assert json.loads(input_line(7, BODY, url=AZURE_URL))["url"] == "/chat/completions"


def test_a_body_on_several_lines_is_refused() -> None:
    with pytest.raises(ValueError):
        input_line(1, b'{\n"model": "m"}')


def _lines(count: int, size: int = 0) -> list[tuple[int, bytes]]:
    body = json.dumps({"model": "m", "pad": "x" * size}, separators=(",", ":")).encode()
    return [(index, input_line(index, body)) for index in range(count)]


def test_files_hold_at_most_the_requests_allowed() -> None:
    split = split_files(_lines(25), FileLimits(max_requests=10))
    assert [len(f.indexes) for f in split.files] == [10, 10, 5]
    assert [i for f in split.files for i in f.indexes] == list(range(25))
    for file in split.files:
        ids = [int(json.loads(line)["custom_id"]) for line in file.content.splitlines()]
        assert ids == list(file.indexes)


def test_files_hold_at_most_the_bytes_allowed() -> None:
    lines = _lines(30, size=100)
    one = len(lines[0][1])
    split = split_files(lines, FileLimits(max_bytes=one * 4 + one // 2))
    assert all(len(f.content) <= one * 4 + one // 2 for f in split.files)
    assert [len(f.indexes) for f in split.files] == [4] * 7 + [2]
    assert not split.too_large


def test_a_line_larger_than_a_file_is_set_aside() -> None:
    large = (3, input_line(3, b'{"pad":"' + b"x" * 500 + b'"}'))
    lines = [*_lines(3), large, (4, _lines(1)[0][1])]
    split = split_files(lines, FileLimits(max_bytes=300))
    assert split.too_large == [3]
    assert [i for f in split.files for i in f.indexes] == [0, 1, 2, 4]


def _completion(text: str) -> dict[str, object]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def test_output_and_error_lines_are_read_back() -> None:
    lines = [
        json.dumps({"custom_id": "2", "response": {"status_code": 200, "body": _completion("B")}}),
        "",
        json.dumps(
            {
                "custom_id": "0",
                "response": {
                    "status_code": 400,
                    "body": {"error": {"code": "invalid_prompt", "message": "secret q"}},
                },
            }
        ),
        json.dumps({"custom_id": "5", "response": {"status_code": 429, "body": {}}}),
        json.dumps({"custom_id": "9", "response": None, "error": {"code": "batch_expired"}}),
    ]
    results = {r.index: r for r in parse_results(line.encode() for line in lines)}
    assert results[2].response == _completion("B") and results[2].reason is None
    assert (results[0].reason, results[0].retryable) == (
        "batch: status 400 (invalid_prompt)",
        False,
    )
    assert "secret" not in (results[0].reason or "")
    assert (results[5].reason, results[5].retryable) == ("batch: status 429", True)
    assert (results[9].reason, results[9].retryable) == ("batch: batch_expired", True)


def test_a_line_that_is_not_ours_is_an_error() -> None:
    with pytest.raises(ValueError, match="custom_id"):
        list(parse_results([json.dumps({"custom_id": "task-1", "response": {}})]))
