"""HTTP for the Files and Batches endpoints, under ``/v1`` (OpenAI) and ``/openai`` (Azure)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devhost.simulator import openai_format as fmt
from devhost.simulator.batches import CHAT_URLS, TERMINAL, Batch
from devhost.simulator.files import PURPOSES, StoredFile, parse_form
from devhost.simulator.state import SimulatorState

_JSON = "application/json"
_MAX_METADATA_KEYS = 16


def _json(value: Any, status: int = 200) -> Response:
    return Response(fmt.dumps(value), status_code=status, media_type=_JSON)


class _Refused(Exception):
    """An answer other than 200, shaped as OpenAI's errors."""

    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.response = Response(
            fmt.error_body(message, "invalid_request_error", param, code),
            status_code=status,
            media_type=_JSON,
        )


class FilesAndBatches:
    def __init__(self, state: SimulatorState, authorized: Callable[[Request], bool]) -> None:
        self._state = state
        self._authorized = authorized

    def routes(self) -> list[Route]:
        routes = []
        for prefix in ("/v1", "/openai"):
            routes += [
                Route(f"{prefix}/files", self._call("uploads", self.upload), methods=["POST"]),
                Route(
                    f"{prefix}/files", self._call("file_lists", self.list_files), methods=["GET"]
                ),
                Route(
                    f"{prefix}/files/{{file_id}}",
                    self._call("file_retrieves", self.get_file),
                    methods=["GET"],
                ),
                Route(
                    f"{prefix}/files/{{file_id}}",
                    self._call("file_deletes", self.delete_file),
                    methods=["DELETE"],
                ),
                Route(
                    f"{prefix}/files/{{file_id}}/content",
                    self._call("content_downloads", self.content),
                    methods=["GET"],
                ),
                Route(f"{prefix}/batches", self._call("creates", self.create), methods=["POST"]),
                Route(f"{prefix}/batches", self._call("lists", self.list_batches), methods=["GET"]),
                Route(
                    f"{prefix}/batches/{{batch_id}}",
                    self._call("retrieves", self.retrieve),
                    methods=["GET"],
                ),
                Route(
                    f"{prefix}/batches/{{batch_id}}/cancel",
                    self._call("cancels", self.cancel),
                    methods=["POST"],
                ),
            ]
        return routes

    def _call(self, counter: str, handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            calls = self._state.stats.batch.calls
            calls[counter] += 1
            try:
                if not self._authorized(request):
                    raise _Refused(401, "Incorrect API key provided.", None, "invalid_api_key")
                return await handler(request)
            except _Refused as refused:
                calls["refused"] += 1
                return refused.response

        return endpoint

    # Files

    async def upload(self, request: Request) -> Response:
        knobs = self._state.config.batches
        body = await request.body()
        if len(body) > knobs.max_file_bytes + 64 * 1024:  # the form's own bytes aside
            raise _Refused(
                413, f"File exceeds the maximum of {knobs.max_file_bytes} bytes.", "file"
            )
        form = parse_form(request.headers.get("content-type", ""), body)
        purpose = form.get("purpose")
        upload = form.get("file")
        if purpose is None:
            raise _Refused(400, "Missing required parameter: 'purpose'.", "purpose")
        purpose_name = purpose.data.decode(errors="replace").strip()
        if purpose_name not in PURPOSES:
            raise _Refused(400, f"Invalid value for 'purpose': '{purpose_name}'.", "purpose")
        if upload is None or upload.filename is None:
            raise _Refused(400, "Missing required parameter: 'file'.", "file")
        if len(upload.data) > knobs.max_file_bytes:
            raise _Refused(
                400,
                f"File is too large: {len(upload.data)} bytes; the maximum for purpose"
                f" '{purpose_name}' is {knobs.max_file_bytes} bytes.",
                "file",
            )
        now = int(self._state.batches.clock.now())
        stored = self._state.batches.files.add(upload.filename, purpose_name, upload.data, now)
        return _json(stored.as_dict())

    def _file(self, request: Request) -> StoredFile:
        file_id = request.path_params["file_id"]
        stored = self._state.batches.files.get(file_id)
        if stored is None:
            raise _Refused(404, f"No such File object: {file_id}", "id")
        return stored

    async def get_file(self, request: Request) -> Response:
        return _json(self._file(request).as_dict())

    async def content(self, request: Request) -> Response:
        return Response(self._file(request).content, media_type="application/octet-stream")

    async def delete_file(self, request: Request) -> Response:
        stored = self._file(request)
        self._state.batches.files.delete(stored.id)
        return _json({"id": stored.id, "object": "file", "deleted": True})

    async def list_files(self, request: Request) -> Response:
        query = request.query_params
        newest_first = query.get("order", "desc") != "asc"
        files = self._state.batches.files.listed(query.get("purpose"), newest_first)
        page, more = _page(files, query.get("after"), _limit(query.get("limit"), 10_000))
        return _json(_list([f.as_dict() for f in page], more))

    # Batches

    async def create(self, request: Request) -> Response:
        state = self._state
        try:
            data = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _Refused(400, "We could not parse the JSON body of your request.") from None
        if not isinstance(data, dict):
            raise _Refused(400, "The request body must be a JSON object.")
        file_id = data.get("input_file_id")
        if not isinstance(file_id, str):
            raise _Refused(
                400,
                "Missing required parameter: 'input_file_id'.",
                "input_file_id",
                "missing_required_parameter",
            )
        endpoint = data.get("endpoint")
        if endpoint not in CHAT_URLS:
            raise _Refused(
                400,
                f"Invalid value for 'endpoint': {endpoint!r}; this simulator batches"
                " '/v1/chat/completions' (or '/chat/completions').",
                "endpoint",
                "invalid_value",
            )
        if data.get("completion_window") != "24h":
            raise _Refused(
                400,
                "Invalid value for 'completion_window': only '24h' is supported.",
                "completion_window",
                "invalid_value",
            )
        metadata = _metadata(data.get("metadata"))
        stored = state.batches.files.get(file_id)
        if stored is None:
            raise _Refused(404, f"No such File object: {file_id}", "input_file_id")
        if stored.purpose != "batch":
            raise _Refused(
                400,
                f"File {file_id} has purpose '{stored.purpose}'; a batch needs 'batch'.",
                "input_file_id",
                "invalid_value",
            )
        state.batches.refresh_all(state.stats)  # finished batches leave the token queue
        batch = state.batches.create(
            state.config, state.known, file_id, stored.content, str(endpoint), metadata
        )
        return _json(batch.as_dict())

    def _batch(self, request: Request) -> Batch:
        batch_id = request.path_params["batch_id"]
        batch = self._state.batches.batches.get(batch_id)
        if batch is None:
            raise _Refused(404, f"No batch found with id '{batch_id}'.", "batch_id")
        self._state.batches.refresh(batch, self._state.stats)
        return batch

    async def retrieve(self, request: Request) -> Response:
        return _json(self._batch(request).as_dict())

    async def cancel(self, request: Request) -> Response:
        batch = self._batch(request)
        if batch.status in TERMINAL:
            raise _Refused(409, f"Cannot cancel a batch with status '{batch.status}'.")
        if batch.status != "cancelling":
            self._state.batches.cancel(batch, self._state.config.batches.cancel_s)
        return _json(batch.as_dict())

    async def list_batches(self, request: Request) -> Response:
        service = self._state.batches
        service.refresh_all(self._state.stats)
        batches = list(service.batches.values())[::-1]  # newest first
        query = request.query_params
        page, more = _page(batches, query.get("after"), _limit(query.get("limit"), 20))
        return _json(_list([b.as_dict() for b in page], more))

    # Control

    async def advance(self, request: Request) -> Response:
        """``POST /sim/batches/advance`` ``{"seconds": s}``: skip time on the batch clock."""
        try:
            seconds = json.loads(await request.body() or b"{}").get("seconds")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            seconds = None
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            return Response(
                fmt.error_body(
                    "'seconds' must be a number >= 0", "invalid_request_error", "seconds"
                ),
                status_code=400,
                media_type=_JSON,
            )
        service = self._state.batches
        service.clock.advance(float(seconds))
        service.refresh_all(self._state.stats)
        statuses: dict[str, int] = {}
        for batch in service.batches.values():
            statuses[batch.status] = statuses.get(batch.status, 0) + 1
        return _json(
            {"now": service.clock.now(), "skipped_s": service.clock.skipped_s, "batches": statuses}
        )


def _limit(raw: str | None, default: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _Refused(400, f"Invalid value for 'limit': {raw!r}.", "limit") from None
    if value < 1:
        raise _Refused(400, "'limit' must be at least 1.", "limit")
    return min(value, max(default, 100))


def _page(items: list[Any], after: str | None, limit: int) -> tuple[list[Any], bool]:
    start = 0
    if after is not None:
        ids = [item.id for item in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    page = items[start : start + limit]
    return page, start + limit < len(items)


def _list(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > _MAX_METADATA_KEYS:
        raise _Refused(400, "'metadata' must be an object of at most 16 pairs.", "metadata")
    for key, item in value.items():
        if not isinstance(item, str) or len(key) > 64 or len(item) > 512:
            raise _Refused(
                400,
                "'metadata' keys are strings of at most 64 characters and values strings of"
                " at most 512.",
                "metadata",
            )
    return value
