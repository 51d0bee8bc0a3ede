"""The Batch API: an input file checked as OpenAI checks it, each line answered as the chat
route would answer its body, and a batch's status at any moment of the batch clock.

A batch's progress is computed when it is looked at (retrieve, list, create, advance), from the
timings frozen at its creation: lines are done evenly over ``delay_s``; then it is
``finalizing`` for ``finalize_s`` and ``completed``; or, if ``delay_s`` runs past
``expire_after_s``, it is ``expired`` then with the lines not done in its error file.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devhost.simulator import openai_format as fmt
from devhost.simulator.answers import complete
from devhost.simulator.config import BatchConfig, SimulatorConfig
from devhost.simulator.files import FileStore
from devhost.simulator.stats import Stats
from devhost.simulator.tokens import content_text, estimate_prompt_tokens
from devhost.simulator.validation import InvalidRequestError, parse_chat_request

CHAT_URLS = frozenset({"/v1/chat/completions", "/chat/completions"})
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
_SERVER_ERROR = {
    "error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}
_EXPIRED = {
    "code": "batch_expired",
    "message": "This request could not be executed before the completion window expired.",
}
_CANCELLED = {
    "code": "batch_cancelled",
    "message": "This request was not executed because the batch was cancelled.",
}


class BatchClock:
    """Unix seconds: a base clock (wall time unless given) plus what was skipped."""

    def __init__(self, base: Callable[[], float] = time.time) -> None:
        self._base = base
        self.skipped_s = 0.0

    def now(self) -> float:
        return self._base() + self.skipped_s

    def advance(self, seconds: float) -> None:
        self.skipped_s += seconds


@dataclass(slots=True)
class LineAnswer:
    """One input line and how it was answered (``status_code`` 200 goes to the output file)."""

    custom_id: str
    status_code: int
    body: dict[str, Any]
    deployment: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    query: str | None = None


@dataclass(slots=True)
class Batch:
    id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    metadata: dict[str, str] | None
    created_at: float
    delay_s: float
    finalize_s: float
    expires_at: float
    lines: list[LineAnswer]
    errors: list[dict[str, Any]] | None
    enqueued: dict[str, int]
    status: str = "validating"
    in_progress_at: float | None = None
    finalizing_at: float | None = None
    completed_at: float | None = None
    failed_at: float | None = None
    expired_at: float | None = None
    cancelling_at: float | None = None
    cancel_s: float = 0.0
    cancelled_at: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    completed: int = 0
    failed: int = 0

    def done_by(self, moment: float) -> int:
        """How many lines (in file order) are done at ``moment``."""
        total = len(self.lines)
        if self.delay_s <= 0:
            return total
        return min(total, math.floor(total * max(0.0, moment - self.created_at) / self.delay_s))

    def as_dict(self) -> dict[str, Any]:
        def at(moment: float | None) -> int | None:
            return None if moment is None else int(moment)

        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": None if self.errors is None else {"object": "list", "data": self.errors},
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": at(self.created_at),
            "in_progress_at": at(self.in_progress_at),
            "expires_at": at(self.expires_at),
            "finalizing_at": at(self.finalizing_at),
            "completed_at": at(self.completed_at),
            "failed_at": at(self.failed_at),
            "expired_at": at(self.expired_at),
            "cancelling_at": at(self.cancelling_at),
            "cancelled_at": at(self.cancelled_at),
            "request_counts": {
                "total": len(self.lines),
                "completed": self.completed,
                "failed": self.failed,
            },
            "metadata": self.metadata,
        }


def answer_line(
    custom_id: str,
    body: dict[str, Any],
    config: SimulatorConfig,
    known: frozenset[str],
    completion_id: str,
    created: int,
) -> LineAnswer:
    """The chat route's answer to ``body``: the same checks, answers and usage."""
    try:
        chat = parse_chat_request(fmt.dumps(body), None)
    except InvalidRequestError as exc:
        error = json.loads(
            fmt.error_body(exc.message, "invalid_request_error", exc.param, exc.code)
        )
        model = body.get("model")
        return LineAnswer(custom_id, 400, error, model if isinstance(model, str) else None)
    deployment = chat.deployment
    if config.strict_deployments and deployment not in known:
        error = {
            "error": {
                "code": "DeploymentNotFound",
                "message": "The API deployment for this resource does not exist.",
                "type": None,
                "param": None,
            }
        }
        return LineAnswer(custom_id, 404, error, deployment)
    phrase = config.content_filter_phrase
    if phrase is not None and any(phrase in content_text(m.get("content")) for m in chat.messages):
        return LineAnswer(custom_id, 400, json.loads(fmt.content_filter_body()), deployment)
    prompt_tokens = estimate_prompt_tokens(chat.messages, chat.tools)
    completion = complete(chat, config.answer_tokens)
    answer = json.loads(
        fmt.completion_body(completion_id, created, deployment, completion, prompt_tokens)
    )
    query = next(
        (
            content_text(m.get("content"))
            for m in reversed(chat.messages)
            if m.get("role") == "user"
        ),
        None,
    )
    return LineAnswer(
        custom_id, 200, answer, deployment, prompt_tokens, completion.completion_tokens, query
    )


def read_input(content: bytes, max_lines: int) -> tuple[list[tuple[str, dict[str, Any]]], list]:
    """The (custom_id, body) of each line, or the errors that fail the batch."""
    errors: list[dict[str, Any]] = []
    requests: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()

    def refuse(line: int, code: str, message: str, param: str | None = None) -> None:
        errors.append({"code": code, "message": message, "param": param, "line": line})

    lines = [(n, raw) for n, raw in enumerate(content.splitlines(), 1) if raw.strip()]
    if not lines:
        refuse(0, "empty_file", "The input file is empty.")
    if len(lines) > max_lines:
        refuse(
            0,
            "batch_request_limit_exceeded",
            f"The input file has {len(lines)} requests; a batch takes at most {max_lines}.",
        )
        return [], errors
    for number, raw in lines:
        try:
            line = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            refuse(number, "invalid_json_line", "This line is not parseable as valid JSON.")
            continue
        if not isinstance(line, dict):
            refuse(number, "invalid_json_line", "This line is not a JSON object.")
            continue
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            refuse(number, "missing_required_parameter", "Missing 'custom_id'.", "custom_id")
            continue
        if custom_id in seen:
            refuse(
                number,
                "duplicate_custom_id",
                "The custom_id for this request is a duplicate of another request. The"
                " custom_id parameter must be unique for each request in a batch.",
                "custom_id",
            )
            continue
        seen.add(custom_id)
        if line.get("method") != "POST":
            refuse(number, "invalid_request", "The 'method' must be 'POST'.", "method")
            continue
        if line.get("url") not in CHAT_URLS:
            refuse(
                number,
                "invalid_url",
                "The 'url' must be '/v1/chat/completions' or '/chat/completions'.",
                "url",
            )
            continue
        body = line.get("body")
        if not isinstance(body, dict):
            refuse(number, "missing_required_parameter", "Missing 'body'.", "body")
            continue
        requests.append((custom_id, body))
    return requests, errors


class BatchService:
    """Files and batches of one simulator; the HTTP layer turns its answers into responses."""

    def __init__(self, clock: BatchClock) -> None:
        self.clock = clock
        self.files = FileStore()
        self.batches: dict[str, Batch] = {}
        self._batch_ids = itertools.count(1)
        self._completion_ids = itertools.count(1)

    def create(
        self,
        config: SimulatorConfig,
        known: frozenset[str],
        input_file_id: str,
        content: bytes,
        endpoint: str,
        metadata: dict[str, str] | None,
    ) -> Batch:
        now = self.clock.now()
        knobs: BatchConfig = config.batches
        batch_id = f"batch_sim{next(self._batch_ids):020d}"
        requests, errors = read_input(content, knobs.max_lines)
        lines: list[LineAnswer] = []
        enqueued: dict[str, int] = {}
        if not errors:
            rng = random.Random(f"{config.seed}:batch:{batch_id}")
            for custom_id, body in requests:
                completion_id = f"chatcmpl-simbatch{next(self._completion_ids):012d}"
                line = answer_line(custom_id, body, config, known, completion_id, int(now))
                if line.deployment is not None:  # a line that will fail is queued all the same
                    enqueued[line.deployment] = (
                        enqueued.get(line.deployment, 0) + line.prompt_tokens
                    )
                if rng.random() < knobs.failed_line_rate and line.status_code == 200:
                    line = LineAnswer(custom_id, 500, _SERVER_ERROR, line.deployment)
                lines.append(line)
            errors = self._over_enqueued(knobs, enqueued)
        batch = Batch(
            id=batch_id,
            endpoint=endpoint,
            input_file_id=input_file_id,
            completion_window="24h",
            metadata=metadata,
            created_at=now,
            delay_s=knobs.delay_s,
            finalize_s=knobs.finalize_s,
            expires_at=now + knobs.expire_after_s,
            lines=lines,
            errors=errors or None,
            enqueued={} if errors else enqueued,
        )
        self.batches[batch.id] = batch
        return batch

    def enqueued_tokens(self) -> dict[str, int]:
        """Prompt tokens of the batches not yet finished, by deployment."""
        totals: dict[str, int] = {}
        for batch in self.batches.values():
            if batch.status in TERMINAL:
                continue
            for deployment, tokens in batch.enqueued.items():
                totals[deployment] = totals.get(deployment, 0) + tokens
        return totals

    def _over_enqueued(self, knobs: BatchConfig, wanted: dict[str, int]) -> list[dict[str, Any]]:
        if not knobs.enqueued_tokens:
            return []
        queued = self.enqueued_tokens()
        errors = []
        for deployment, tokens in sorted(wanted.items()):
            limit = knobs.enqueued_limit(deployment)
            if limit is not None and queued.get(deployment, 0) + tokens > limit:
                errors.append(
                    {
                        "code": "token_limit_exceeded",
                        "message": "The number of enqueued tokens has surpassed the configured"
                        f" limit of {limit} for the deployment '{deployment}'. Please either"
                        " increase the limit or try again once the current jobs have finished.",
                        "param": None,
                        "line": None,
                    }
                )
        return errors

    def cancel(self, batch: Batch, cancel_s: float) -> None:
        now = self.clock.now()
        batch.status = "cancelling"
        batch.cancelling_at = now
        batch.cancel_s = cancel_s

    def refresh_all(self, stats: Stats) -> None:
        for batch in self.batches.values():
            self.refresh(batch, stats)

    def refresh(self, batch: Batch, stats: Stats) -> None:
        """Move ``batch`` to the status it has now on the batch clock."""
        if batch.status in TERMINAL:
            return
        now = self.clock.now()
        if batch.errors is not None:
            batch.status = "failed"
            batch.failed_at = batch.created_at
            stats.batch.by_status["failed"] += 1
            return
        batch.in_progress_at = batch.created_at
        if batch.cancelling_at is not None:
            if now >= batch.cancelling_at + batch.cancel_s:
                done = batch.done_by(batch.cancelling_at)
                self._finish(batch, "cancelled", batch.cancelling_at + batch.cancel_s, done, stats)
            else:
                self._count(batch, batch.done_by(batch.cancelling_at))
            return
        lines_done_at = batch.created_at + batch.delay_s
        if lines_done_at > batch.expires_at and now >= batch.expires_at:
            self._finish(batch, "expired", batch.expires_at, batch.done_by(batch.expires_at), stats)
        elif now >= lines_done_at + batch.finalize_s:
            batch.finalizing_at = lines_done_at
            self._finish(
                batch, "completed", lines_done_at + batch.finalize_s, len(batch.lines), stats
            )
        elif now >= lines_done_at:
            batch.status = "finalizing"
            batch.finalizing_at = lines_done_at
            self._count(batch, len(batch.lines))
        else:
            batch.status = "in_progress"
            self._count(batch, batch.done_by(now))

    @staticmethod
    def _count(batch: Batch, done: int) -> None:
        completed = sum(1 for line in batch.lines[:done] if line.status_code == 200)
        batch.completed = completed
        batch.failed = done - completed

    def _finish(self, batch: Batch, status: str, at: float, done: int, stats: Stats) -> None:
        output: list[bytes] = []
        errors: list[bytes] = []
        for index, line in enumerate(batch.lines):
            suffix = f"{batch.id.removeprefix('batch_')}_{index:06d}"
            row: dict[str, Any] = {"id": f"batch_req_{suffix}", "custom_id": line.custom_id}
            if index < done:
                row["response"] = {
                    "status_code": line.status_code,
                    "request_id": f"req_{suffix}",
                    "body": line.body,
                }
                row["error"] = None
                if line.status_code == 200:
                    output.append(fmt.dumps(row))
                    assert line.deployment is not None
                    stats.record_tokens(
                        line.deployment, line.prompt_tokens, line.completion_tokens, line.query
                    )
                    stats.batch.lines["completed"] += 1
                else:
                    errors.append(fmt.dumps(row))
                    stats.batch.lines["failed"] += 1
            else:
                row["response"] = None
                row["error"] = _EXPIRED if status == "expired" else _CANCELLED
                errors.append(fmt.dumps(row))
                stats.batch.lines[status] += 1
        when = int(at)
        if output:
            name = f"{batch.id}_output.jsonl"
            stored = self.files.add(name, "batch_output", b"\n".join(output) + b"\n", when)
            batch.output_file_id = stored.id
        if errors:
            name = f"{batch.id}_error.jsonl"
            stored = self.files.add(name, "batch_output", b"\n".join(errors) + b"\n", when)
            batch.error_file_id = stored.id
        batch.completed = len(output)
        batch.failed = len(errors)
        batch.status = status
        setattr(batch, f"{status}_at", at)
        stats.batch.by_status[status] += 1
