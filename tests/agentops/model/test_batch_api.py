"""The SDK adapter of the Batch API port, through the real OpenAI SDK on both URL shapes.

A small in-process endpoint (an httpx mock transport) keeps files and batches the way the
provider does, so the test sees the SDK's own requests: an upload or a batch made before a
crash is found again by its label, never made twice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI

from agentops.model.batch_api import LABEL_KEY, OpenAIBatchApi
from agentops.model.batch_files import AZURE_URL, OPENAI_URL


class FilesAndBatches:
    """Files and Batches endpoints over dicts; counts the writes it took."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, bytes]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.writes: list[str] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path.removeprefix("/openai").removeprefix("/v1")
        method = request.method
        if method == "POST" and path == "/files":
            self.writes.append("upload")
            body = request.content
            name = body.split(b'filename="', 1)[1].split(b'"', 1)[0].decode()
            content = body.split(b"\r\n\r\n")[-1].rsplit(b"\r\n--", 1)[0]
            file_id = f"file-{len(self.files)}"
            self.files[file_id] = (name, content)
            return httpx2.Response(200, json=self._file(file_id))
        if method == "GET" and path == "/files":
            data = [self._file(i) for i in reversed(self.files)]
            return httpx2.Response(200, json={"object": "list", "data": data, "has_more": False})
        if method == "GET" and path.endswith("/content"):
            return httpx2.Response(200, content=self.files[path.split("/")[2]][1])
        if method == "POST" and path == "/batches":
            self.writes.append("create")
            sent = json.loads(request.content)
            batch_id = f"batch_{len(self.batches)}"
            self.batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": sent["endpoint"],
                "input_file_id": sent["input_file_id"],
                "completion_window": "24h",
                "status": "validating",
                "created_at": 1,
                "metadata": sent.get("metadata"),
                "request_counts": {"total": 2, "completed": 0, "failed": 0},
            }
            return httpx2.Response(200, json=self.batches[batch_id])
        if method == "GET" and path == "/batches":
            data = list(reversed(self.batches.values()))
            return httpx2.Response(200, json={"object": "list", "data": data, "has_more": False})
        if path.startswith("/batches/"):
            batch = self.batches[path.split("/")[2]]
            if path.endswith("/cancel"):
                batch["status"] = "cancelling"
            return httpx2.Response(200, json=batch)
        return httpx2.Response(404, json={"error": {"message": f"no route {method} {path}"}})

    def _file(self, file_id: str) -> dict[str, Any]:
        name, content = self.files[file_id]
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": 1,
            "filename": name,
            "purpose": "batch",
        }


@pytest.fixture(params=["openai", "azure"])
async def endpoint(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[OpenAIBatchApi, FilesAndBatches, str]]:
    server = FilesAndBatches()
    http_client = httpx2.AsyncClient(transport=httpx2.MockTransport(server))
    client: AsyncOpenAI
    if request.param == "azure":
        client = AsyncAzureOpenAI(
            azure_endpoint="https://model.openai.azure.com",
            api_key="k",
            api_version="2024-10-21",
            max_retries=0,
            http_client=http_client,
        )
        url = AZURE_URL
    else:
        client = AsyncOpenAI(
            base_url="http://model.test/v1", api_key="k", max_retries=0, http_client=http_client
        )
        url = OPENAI_URL
    yield OpenAIBatchApi(client), server, url
    await client.close()


async def test_a_retried_upload_and_create_find_the_first(
    endpoint: tuple[OpenAIBatchApi, FilesAndBatches, str],
) -> None:
    api, server, url = endpoint
    assert api.line_url == url
    content = b'{"custom_id": "0"}\n{"custom_id": "1"}\n'
    first = await api.upload("run1-r1-f0", content)
    assert await api.upload("run1-r1-f0", content) == first
    other = await api.upload("run1-r1-f1", content)
    assert other != first
    batch = await api.create("run1-r1-f0", first)
    again = await api.create("run1-r1-f0", first)
    assert again.batch_id == batch.batch_id and batch.label == "run1-r1-f0"
    assert server.writes == ["upload", "upload", "create"]
    assert server.batches[batch.batch_id]["metadata"] == {LABEL_KEY: "run1-r1-f0"}
    assert server.files[first] == ("run1-r1-f0.jsonl", content)


async def test_retrieve_cancel_and_stream_a_file(
    endpoint: tuple[OpenAIBatchApi, FilesAndBatches, str],
) -> None:
    api, _, _ = endpoint
    file_id = await api.upload("l", b'{"a": 1}\n{"b": 2}\n')
    batch = await api.create("l", file_id)
    assert (await api.retrieve(batch.batch_id)).status == "validating"
    assert not batch.final
    assert (await api.cancel(batch.batch_id)).status == "cancelling"
    assert [line async for line in api.lines(file_id)] == [b'{"a": 1}', b'{"b": 2}']
