"""A Batch API in process: the port's behaviour without a provider, for tests and local runs.

Files and batches live in dicts. A batch moves one state per ``retrieve`` (validating,
in_progress, finalizing, completed), and on completion each line's body is answered by
``respond`` (a chat completion for a body). ``fail`` picks lines that come back as errors
(HTTP 500, retryable); ``expire`` makes a batch expire with only some lines answered; ``hold``
keeps batches in progress until they are canceled.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from agentops.model.batch_api import BatchState
from agentops.model.batch_files import OPENAI_URL

Responder = Callable[[dict[str, Any]], dict[str, Any]]
_PROGRESS = ("validating", "in_progress", "finalizing", "completed")


@dataclass
class _Batch:
    state: BatchState
    input_file_id: str
    expire: bool = False


@dataclass
class MemoryBatchApi:
    respond: Responder
    # (label, custom_id) -> whether that line fails; None: no line fails.
    fail: Callable[[str, str], bool] | None = None
    # Labels whose batch expires after answering the first half of its lines.
    expire: set[str] = field(default_factory=set)
    # Batches stay in progress (until canceled): a provider that takes its time.
    hold: bool = False
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    batches: dict[str, _Batch] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    most_open: int = 0  # the most batches unfinished at once

    @property
    def line_url(self) -> str:
        return OPENAI_URL

    async def upload(self, label: str, content: bytes) -> str:
        self._count("find_file")
        name = f"{label}.jsonl"
        for file_id, (found, data) in self.files.items():
            if found == name and len(data) == len(content):
                return file_id
        self._count("upload")
        return self._file(name, content)

    async def create(self, label: str, input_file_id: str) -> BatchState:
        self._count("find_batch")
        for batch in self.batches.values():
            if batch.state.label == label:
                return batch.state
        self._count("create")
        batch_id = f"batch_{len(self.batches)}"
        total = self.files[input_file_id][1].count(b"\n")
        state = BatchState(batch_id, label, "validating", total=total)
        self.batches[batch_id] = _Batch(state, input_file_id, expire=label in self.expire)
        open_now = sum(1 for batch in self.batches.values() if not batch.state.final)
        self.most_open = max(self.most_open, open_now)
        return state

    async def retrieve(self, batch_id: str) -> BatchState:
        self._count("retrieve")
        batch = self.batches[batch_id]
        if not batch.state.final:
            status = batch.state.status
            if status == "cancelling":
                self._finish(batch, "cancelled")
            else:
                following = _PROGRESS[_PROGRESS.index(status) + 1]
                if self.hold and following == "finalizing":
                    pass
                elif following == "completed":
                    self._finish(batch, "expired" if batch.expire else "completed")
                else:
                    batch.state = replace(batch.state, status=following)
        return batch.state

    async def cancel(self, batch_id: str) -> BatchState:
        self._count("cancel")
        batch = self.batches[batch_id]
        if not batch.state.final:
            batch.state = replace(batch.state, status="cancelling")
        return batch.state

    async def lines(self, file_id: str) -> AsyncIterator[bytes]:
        self._count("content")
        for line in self.files[file_id][1].splitlines():
            yield line

    def _finish(self, batch: _Batch, status: str) -> None:
        lines = self.files[batch.input_file_id][1].splitlines()
        if status != "completed":
            lines = lines[: len(lines) // 2] if status == "expired" else []
        out: list[bytes] = []
        errors: list[bytes] = []
        for raw in lines:
            request = json.loads(raw)
            custom_id = request["custom_id"]
            if self.fail is not None and self.fail(batch.state.label, custom_id):
                response = {"status_code": 500, "body": {"error": {"code": "server_error"}}}
                errors.append(json.dumps({"custom_id": custom_id, "response": response}).encode())
            else:
                body = self.respond(request["body"])
                response = {"status_code": 200, "body": body}
                out.append(json.dumps({"custom_id": custom_id, "response": response}).encode())
        state = batch.state
        batch.state = replace(
            state,
            status=status,
            output_file_id=self._file(f"{state.batch_id}_output.jsonl", b"\n".join(out) + b"\n")
            if out
            else None,
            error_file_id=self._file(f"{state.batch_id}_error.jsonl", b"\n".join(errors) + b"\n")
            if errors
            else None,
            completed=len(out),
            failed=len(errors),
        )

    def _file(self, name: str, content: bytes) -> str:
        file_id = f"file-{len(self.files)}"
        self.files[file_id] = (name, content)
        return file_id

    def _count(self, call: str) -> None:
        self.calls[call] = self.calls.get(call, 0) + 1
