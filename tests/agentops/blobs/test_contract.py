"""One contract for every blob adapter: the local folder and Azure Blob Storage (Azurite)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from agentops.blobs import (
    DEFAULT_CONTENT_TYPE,
    BlobExistsError,
    BlobNotFoundError,
    BlobStore,
)
from tests.agentops.blobs.conftest import BLOCK_SIZE, Containers

MiB = 1024 * 1024


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        await asyncio.sleep(0)
        yield data[start : start + size]


async def read_stream(blobs: BlobStore, container: str, name: str) -> list[bytes]:
    return [chunk async for chunk in blobs.stream(container, name)]


async def names(blobs: BlobStore, container: str, prefix: str = "") -> list[str]:
    return [info.name async for info in blobs.list_blobs(container, prefix)]


async def test_bytes_round_trip(blobs: BlobStore, containers: Containers) -> None:
    data = b"\x00\x01hello\nworld\xff" * 100
    info = await blobs.put(containers.main, "reports/2026/11/cost.json", data)

    assert await blobs.get(containers.main, "reports/2026/11/cost.json") == data
    assert info.size == len(data)
    assert info.name == "reports/2026/11/cost.json"
    assert info.content_type == DEFAULT_CONTENT_TYPE
    assert info.metadata == {}


async def test_streamed_put_of_several_mib_is_staged_and_read_back_in_chunks(
    blobs: BlobStore, containers: Containers
) -> None:
    data = os.urandom(5 * MiB + 12345)  # not a multiple of the chunk or block size
    info = await blobs.put(
        containers.main, "backups/part-0001.jsonl.gz", chunks_of(data, 64 * 1024)
    )

    assert info.size == len(data)
    pieces = await read_stream(blobs, containers.main, "backups/part-0001.jsonl.gz")
    assert len(pieces) > 1
    assert max(len(piece) for piece in pieces) <= BLOCK_SIZE
    assert hashlib.sha256(b"".join(pieces)).digest() == hashlib.sha256(data).digest()
    assert await blobs.get(containers.main, "backups/part-0001.jsonl.gz") == data


async def test_streamed_put_regroups_uneven_chunks(
    blobs: BlobStore, containers: Containers
) -> None:
    sizes = [1, BLOCK_SIZE - 1, BLOCK_SIZE + 7, 3, 2 * BLOCK_SIZE, 0, 5]
    parts = [os.urandom(size) for size in sizes]

    async def uneven() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    await blobs.put(containers.main, "uneven", uneven())
    assert await blobs.get(containers.main, "uneven") == b"".join(parts)


async def test_empty_blob_from_bytes_and_from_an_empty_stream(
    blobs: BlobStore, containers: Containers
) -> None:
    await blobs.put(containers.main, "empty-bytes", b"")
    await blobs.put(containers.main, "empty-stream", chunks_of(b"", 10))

    for name in ("empty-bytes", "empty-stream"):
        assert await blobs.get(containers.main, name) == b""
        assert await read_stream(blobs, containers.main, name) in ([], [b""])
        assert (await blobs.head(containers.main, name)).size == 0


async def test_head_returns_size_content_type_metadata_etag_and_time(
    blobs: BlobStore, containers: Containers
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    put = await blobs.put(
        containers.main,
        "reports/compliance.json",
        b'{"ok": true}',
        content_type="application/json; charset=utf-8",
        metadata={"tenant": "t-1", "sha256": "ab" * 32, "rows": "12"},
    )
    head = await blobs.head(containers.main, "reports/compliance.json")

    assert head.size == 12
    assert head.content_type == "application/json; charset=utf-8"
    assert head.metadata == {"tenant": "t-1", "sha256": "ab" * 32, "rows": "12"}
    assert head.etag and head.etag == put.etag
    assert head.last_modified.tzinfo is not None
    assert before <= head.last_modified <= datetime.now(UTC) + timedelta(seconds=2)
    assert (head.container, head.name) == (containers.main, "reports/compliance.json")


async def test_streamed_put_keeps_content_type_and_metadata(
    blobs: BlobStore, containers: Containers
) -> None:
    await blobs.put(
        containers.main,
        "streamed",
        chunks_of(b"x" * (BLOCK_SIZE * 2 + 1), 1000),
        content_type="application/gzip",
        metadata={"part": "7"},
    )
    head = await blobs.head(containers.main, "streamed")
    assert (head.content_type, head.metadata, head.size) == (
        "application/gzip",
        {"part": "7"},
        BLOCK_SIZE * 2 + 1,
    )


async def test_list_by_prefix_in_name_order(blobs: BlobStore, containers: Containers) -> None:
    for name in ["b/2", "a/1", "a/3/x", "a-z", "a/2", "c"]:
        await blobs.put(
            containers.main, name, name.encode(), metadata={"name": name.replace("/", "_")}
        )

    assert await names(blobs, containers.main) == ["a-z", "a/1", "a/2", "a/3/x", "b/2", "c"]
    assert await names(blobs, containers.main, "a/") == ["a/1", "a/2", "a/3/x"]
    assert await names(blobs, containers.main, "a") == ["a-z", "a/1", "a/2", "a/3/x"]
    assert await names(blobs, containers.main, "a/3") == ["a/3/x"]
    assert await names(blobs, containers.main, "nothing/") == []
    listed = [info async for info in blobs.list_blobs(containers.main, "a/3/")]
    assert listed[0].size == len(b"a/3/x")
    assert listed[0].metadata == {"name": "a_3_x"}
    assert listed[0].content_type == DEFAULT_CONTENT_TYPE


async def test_containers_are_separate(blobs: BlobStore, containers: Containers) -> None:
    await blobs.put(containers.main, "same-name", b"main")
    await blobs.put(containers.other, "same-name", b"other")

    assert await blobs.get(containers.main, "same-name") == b"main"
    assert await blobs.get(containers.other, "same-name") == b"other"
    assert await names(blobs, containers.other) == ["same-name"]


async def test_delete(blobs: BlobStore, containers: Containers) -> None:
    await blobs.put(containers.main, "2026/11/26/12/runs.jsonl", b"1")
    await blobs.put(containers.main, "2026/11/26/13/runs.jsonl", b"2")

    await blobs.delete(containers.main, "2026/11/26/12/runs.jsonl")

    assert await names(blobs, containers.main) == ["2026/11/26/13/runs.jsonl"]
    with pytest.raises(BlobNotFoundError):
        await blobs.get(containers.main, "2026/11/26/12/runs.jsonl")
    with pytest.raises(BlobNotFoundError):
        await blobs.delete(containers.main, "2026/11/26/12/runs.jsonl")
    await blobs.delete(containers.main, "2026/11/26/12/runs.jsonl", missing_ok=True)
    # The name can be written again once deleted.
    await blobs.put(containers.main, "2026/11/26/12/runs.jsonl", b"3")
    assert await blobs.get(containers.main, "2026/11/26/12/runs.jsonl") == b"3"


async def test_conditional_create_refuses_an_existing_blob_and_leaves_it(
    blobs: BlobStore, containers: Containers
) -> None:
    first = await blobs.put(containers.main, "manifest.json", b"first", metadata={"v": "1"})

    with pytest.raises(BlobExistsError):
        await blobs.put(containers.main, "manifest.json", b"second", metadata={"v": "2"})
    with pytest.raises(BlobExistsError):
        await blobs.put(containers.main, "manifest.json", chunks_of(os.urandom(MiB), 4096))

    head = await blobs.head(containers.main, "manifest.json")
    assert await blobs.get(containers.main, "manifest.json") == b"first"
    assert (head.metadata, head.etag) == ({"v": "1"}, first.etag)


async def test_overwrite_replaces_content_and_properties(
    blobs: BlobStore, containers: Containers
) -> None:
    first = await blobs.put(containers.main, "latest.json", b"old", metadata={"v": "1"})
    second = await blobs.put(
        containers.main, "latest.json", b"new!", content_type="text/plain", overwrite=True
    )

    head = await blobs.head(containers.main, "latest.json")
    assert await blobs.get(containers.main, "latest.json") == b"new!"
    assert (head.size, head.content_type, head.metadata) == (4, "text/plain", {})
    assert second.etag != first.etag
    assert head.etag == second.etag


async def test_concurrent_conditional_creates_have_one_winner(
    blobs: BlobStore, containers: Containers
) -> None:
    async def attempt(i: int) -> bool:
        try:
            await blobs.put(containers.main, "once", f"writer {i}".encode())
            return True
        except BlobExistsError:
            return False

    won = await asyncio.gather(*(attempt(i) for i in range(8)))

    assert sum(won) == 1
    assert await blobs.get(containers.main, "once") == f"writer {won.index(True)}".encode()


async def test_missing_blobs_raise_not_found_everywhere(
    blobs: BlobStore, containers: Containers
) -> None:
    await blobs.put(containers.main, "present/blob", b"x")
    for name in ["absent", "present/blob/under", "present"]:
        with pytest.raises(BlobNotFoundError):
            await blobs.get(containers.main, name)
        with pytest.raises(BlobNotFoundError):
            await blobs.head(containers.main, name)
        with pytest.raises(BlobNotFoundError):
            await read_stream(blobs, containers.main, name)
        with pytest.raises(BlobNotFoundError):
            await blobs.delete(containers.main, name)


async def test_a_failing_stream_leaves_no_blob(blobs: BlobStore, containers: Containers) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * (BLOCK_SIZE + 1)
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError, match="source failed"):
        await blobs.put(containers.main, "half", broken())

    with pytest.raises(BlobNotFoundError):
        await blobs.head(containers.main, "half")
    assert await names(blobs, containers.main) == []


HOSTILE_NAMES = [
    "",
    "../escape",
    "a/../../escape",
    "a/..",
    "..",
    ".",
    "./a",
    "a/./b",
    "/etc/passwd",
    "//server/share",
    "a//b",
    "a/",
    "a\\..\\..\\escape",
    "C:\\Windows\\system32",
    "a\x00b",
    "a\nb",
    "a\rb",
    "tab\there",
    "ends-with-dot.",
    "x" * 1025,
    "a/" + "b" * 256,
    "bad-\udc80-surrogate",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_hostile_names_are_refused_by_every_operation(
    blobs: BlobStore, containers: Containers, name: str
) -> None:
    with pytest.raises(ValueError):
        await blobs.put(containers.main, name, b"x")
    with pytest.raises(ValueError):
        await blobs.put(containers.main, name, chunks_of(b"x", 1))
    with pytest.raises(ValueError):
        await blobs.get(containers.main, name)
    with pytest.raises(ValueError):
        await blobs.head(containers.main, name)
    with pytest.raises(ValueError):
        await read_stream(blobs, containers.main, name)
    with pytest.raises(ValueError):
        await blobs.delete(containers.main, name, missing_ok=True)
    assert await names(blobs, containers.main) == []


@pytest.mark.parametrize(
    "container",
    ["", "ab", "UPPER", "-start", "end-", "dou--ble", ".incoming", "..", "a/b", "x" * 64],
)
async def test_bad_container_names_are_refused(blobs: BlobStore, container: str) -> None:
    with pytest.raises(ValueError):
        await blobs.put(container, "name", b"x")
    with pytest.raises(ValueError):
        await blobs.get(container, "name")
    with pytest.raises(ValueError):
        await names(blobs, container)


@pytest.mark.parametrize("prefix", ["../", "/abs", "a/../", "a\\", "a\x00"])
async def test_hostile_prefixes_are_refused(
    blobs: BlobStore, containers: Containers, prefix: str
) -> None:
    with pytest.raises(ValueError):
        await names(blobs, containers.main, prefix)


@pytest.mark.parametrize(
    "metadata",
    [
        {"Upper": "x"},
        {"1st": "x"},
        {"has-dash": "x"},
        {"ok": "line\nbreak"},
        {"ok": " padded"},
        {"ok": "non-ascii é"},
        {"ok": "x" * 9000},
    ],
)
async def test_bad_metadata_is_refused(
    blobs: BlobStore, containers: Containers, metadata: dict[str, str]
) -> None:
    with pytest.raises(ValueError):
        await blobs.put(containers.main, "meta", b"x", metadata=metadata)
    with pytest.raises(BlobNotFoundError):
        await blobs.head(containers.main, "meta")


@pytest.mark.parametrize("content_type", ["", "text/plain\r\nX-Injected: 1", "tëxt/plain", " x"])
async def test_bad_content_types_are_refused(
    blobs: BlobStore, containers: Containers, content_type: str
) -> None:
    with pytest.raises(ValueError):
        await blobs.put(containers.main, "typed", b"x", content_type=content_type)


async def test_data_that_is_not_bytes_is_refused(blobs: BlobStore, containers: Containers) -> None:
    async def text() -> AsyncIterator[str]:
        yield "not bytes"

    with pytest.raises(TypeError):
        await blobs.put(containers.main, "typed", "not bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await blobs.put(containers.main, "typed", text())  # type: ignore[arg-type]
    with pytest.raises(BlobNotFoundError):
        await blobs.head(containers.main, "typed")


async def test_unicode_names_round_trip(blobs: BlobStore, containers: Containers) -> None:
    name = "rapports/été 2026/coût #1 & 100%?.json"
    await blobs.put(containers.main, name, b"{}")
    assert await blobs.get(containers.main, name) == b"{}"
    assert await names(blobs, containers.main, "rapports/été") == [name]
