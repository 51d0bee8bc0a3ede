"""The provider's Batch API as the batch-mode run needs it: a port and its OpenAI SDK adapter.

Every write is idempotent through a label the caller derives deterministically (run, round,
file): an upload is named ``<label>.jsonl`` and a batch carries the label in its metadata, so an
activity retried after a crash finds what the first attempt made instead of making it twice.
``OpenAIBatchApi`` speaks both OpenAI and Azure OpenAI (Global Batch): the same SDK calls on
``AsyncOpenAI`` or ``AsyncAzureOpenAI``, only the endpoint path in the lines differs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from openai import AsyncAzureOpenAI, AsyncOpenAI

from agentops.model.batch_files import AZURE_URL, OPENAI_URL

LABEL_KEY = "agentops_label"
# States after which a batch changes no more.
FINAL_STATES = frozenset({"completed", "failed", "expired", "cancelled"})
# How many of the newest batches a look-up by label reads before it concludes there is none.
MAX_LOOKUP = 1000

BatchStatus = Literal[
    "validating",
    "failed",
    "in_progress",
    "finalizing",
    "completed",
    "expired",
    "cancelling",
    "cancelled",
]


@dataclass(frozen=True, slots=True)
class BatchState:
    batch_id: str
    label: str
    status: str
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATES


class BatchApi(Protocol):
    """Files and batches of one endpoint; each write finds its own earlier result by label."""

    @property
    def line_url(self) -> str:
        """The ``url`` each input line names."""
        ...

    async def upload(self, label: str, content: bytes) -> str:
        """The id of the input file named after ``label``, uploading it only if none exists."""
        ...

    async def create(self, label: str, input_file_id: str) -> BatchState:
        """The batch labelled ``label``, creating it from ``input_file_id`` only if none is."""
        ...

    async def retrieve(self, batch_id: str) -> BatchState: ...

    async def cancel(self, batch_id: str) -> BatchState: ...

    def lines(self, file_id: str) -> AsyncIterator[bytes]:
        """The lines of an output or error file, streamed."""
        ...


def state_of(batch: Any) -> BatchState:
    """A ``BatchState`` from the SDK's ``Batch``."""
    counts = batch.request_counts
    return BatchState(
        batch_id=batch.id,
        label=(batch.metadata or {}).get(LABEL_KEY, ""),
        status=batch.status,
        output_file_id=batch.output_file_id,
        error_file_id=batch.error_file_id,
        total=counts.total if counts else 0,
        completed=counts.completed if counts else 0,
        failed=counts.failed if counts else 0,
    )


class OpenAIBatchApi:
    """``BatchApi`` over the OpenAI SDK's ``files`` and ``batches``."""

    def __init__(self, client: AsyncOpenAI) -> None:
        self._client = client
        self._azure = isinstance(client, AsyncAzureOpenAI)

    @property
    def line_url(self) -> str:
        return AZURE_URL if self._azure else OPENAI_URL

    async def upload(self, label: str, content: bytes) -> str:
        name = f"{label}.jsonl"
        async for found in self._client.files.list(purpose="batch", order="desc"):
            if found.filename == name and found.bytes == len(content):
                return found.id
        created = await self._client.files.create(file=(name, content), purpose="batch")
        return created.id

    async def create(self, label: str, input_file_id: str) -> BatchState:
        found = await self._find(label)
        if found is not None:
            return found
        batch = await self._client.batches.create(
            input_file_id=input_file_id,
            endpoint="/v1/chat/completions",  # the SDK's name for it; Azure maps it
            completion_window="24h",
            metadata={LABEL_KEY: label},
        )
        return state_of(batch)

    async def retrieve(self, batch_id: str) -> BatchState:
        return state_of(await self._client.batches.retrieve(batch_id))

    async def cancel(self, batch_id: str) -> BatchState:
        return state_of(await self._client.batches.cancel(batch_id))

    async def lines(self, file_id: str) -> AsyncIterator[bytes]:
        async with self._client.files.with_streaming_response.content(file_id) as response:
            async for line in response.iter_lines():
                if line:
                    yield line.encode()

    async def _find(self, label: str) -> BatchState | None:
        seen = 0
        async for batch in self._client.batches.list(limit=100):
            if (batch.metadata or {}).get(LABEL_KEY) == label:
                return state_of(batch)
            seen += 1
            if seen >= MAX_LOOKUP:
                break
        return None
