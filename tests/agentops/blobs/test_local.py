"""What only the folder adapter has to prove: atomic, owner-only writes that stay in the root."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentops.blobs import BlobError, BlobExistsError, BlobNotFoundError
from agentops.blobs.local import LocalBlobStore
from tests.agentops.blobs.test_contract import HOSTILE_NAMES

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes and symbolic links")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data" / "blobs"


@pytest.fixture
def store(root: Path) -> LocalBlobStore:
    return LocalBlobStore(root, chunk_size=1024)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def tree(path: Path) -> list[Path]:
    return sorted(path.rglob("*"))


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


async def test_root_and_folders_are_made_on_demand_owner_only(
    store: LocalBlobStore, root: Path
) -> None:
    old_umask = os.umask(0o002)  # a permissive umask must not widen them
    try:
        await store.put("backups", "2026/11/26/manifest.json", b"{}")
    finally:
        os.umask(old_umask)

    blob = root / "backups" / "2026" / "11" / "26" / "manifest.json"
    assert mode(blob) == 0o600
    for folder in [root, root / "backups", *blob.relative_to(root).parents]:
        assert mode(root / folder) == 0o700, folder


async def test_the_file_holds_its_properties_and_content_together(
    store: LocalBlobStore, root: Path
) -> None:
    await store.put("reports", "r.json", b"body", content_type="application/json")
    header, body = (root / "reports" / "r.json").read_bytes().split(b"\n", 1)
    assert body == b"body"
    assert b"application/json" in header


async def test_no_temp_file_is_left_after_success_or_failure(
    store: LocalBlobStore, root: Path
) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise OSError("disk gone")

    await store.put("backups", "ok", b"x")
    with pytest.raises(OSError, match="disk gone"):
        await store.put("backups", "broken", broken())
    with pytest.raises(BlobExistsError):
        await store.put("backups", "ok", b"y")

    assert list((root / ".incoming").iterdir()) == []
    assert files_under(root / "backups") == [root / "backups" / "ok"]


async def test_a_failed_overwrite_leaves_the_previous_blob_whole(store: LocalBlobStore) -> None:
    await store.put("backups", "latest", b"complete old version", metadata={"v": "1"})

    async def broken() -> AsyncIterator[bytes]:
        yield b"new "
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError):
        await store.put("backups", "latest", broken(), metadata={"v": "2"}, overwrite=True)

    assert await store.get("backups", "latest") == b"complete old version"
    assert (await store.head("backups", "latest")).metadata == {"v": "1"}


async def test_a_symbolic_link_under_the_root_cannot_lead_writes_or_reads_outside(
    store: LocalBlobStore, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b'{"v":1,"content_type":"x","metadata":{},"etag":"e"}\nleak')
    await store.put("backups", "real", b"x")
    (root / "backups" / "linked").symlink_to(outside, target_is_directory=True)
    (root / "backups" / "file-link").symlink_to(outside / "secret")

    with pytest.raises(ValueError, match="symbolic link"):
        await store.put("backups", "linked/new/blob", b"x")
    with pytest.raises(ValueError, match="symbolic link"):
        await store.put("backups", "file-link", b"x", overwrite=True)
    with pytest.raises(ValueError, match="symbolic link"):
        await store.get("backups", "linked/secret")
    with pytest.raises(ValueError, match="symbolic link"):
        await store.get("backups", "file-link")
    with pytest.raises(ValueError, match="symbolic link"):
        await store.delete("backups", "linked/secret")

    assert [info.name async for info in store.list_blobs("backups")] == ["real"]
    assert [p.name for p in outside.iterdir()] == ["secret"]
    assert (outside / "secret").exists()


async def test_a_linked_container_folder_is_refused(
    store: LocalBlobStore, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    await store.put("backups", "makes-the-root", b"x")
    (root / "reports").symlink_to(outside, target_is_directory=True)

    with pytest.raises(ValueError, match="symbolic link"):
        await store.put("reports", "r.json", b"x")
    assert list(outside.iterdir()) == []


async def test_a_root_reached_through_a_link_is_fine(tmp_path: Path) -> None:
    real = tmp_path / "real-root"
    real.mkdir()
    (tmp_path / "link-root").symlink_to(real, target_is_directory=True)
    store = LocalBlobStore(tmp_path / "link-root")

    await store.put("backups", "a/b", b"x")
    assert (real / "backups" / "a" / "b").is_file()


async def test_a_name_cannot_be_a_blob_and_a_folder(store: LocalBlobStore) -> None:
    await store.put("backups", "a", b"blob")
    await store.put("backups", "b/c", b"blob")

    with pytest.raises(ValueError, match="folder"):
        await store.put("backups", "a/b", b"x")
    with pytest.raises(ValueError, match="folder"):
        await store.put("backups", "b", b"x", overwrite=True)
    assert await store.get("backups", "a") == b"blob"


async def test_delete_drops_the_folders_it_empties_but_not_the_container(
    store: LocalBlobStore, root: Path
) -> None:
    await store.put("backups", "2026/11/26/12/a", b"x")
    await store.put("backups", "2026/11/27/b", b"x")

    await store.delete("backups", "2026/11/26/12/a")

    assert not (root / "backups" / "2026" / "11" / "26").exists()
    assert (root / "backups" / "2026" / "11" / "27").is_dir()
    await store.delete("backups", "2026/11/27/b")
    assert list((root / "backups").iterdir()) == []


async def test_listing_a_container_never_written_is_empty(store: LocalBlobStore) -> None:
    assert [info async for info in store.list_blobs("reports")] == []
    with pytest.raises(BlobNotFoundError):
        await store.get("reports", "anything")


async def test_a_foreign_file_is_not_a_blob(store: LocalBlobStore, root: Path) -> None:
    await store.put("reports", "good", b"x")
    (root / "reports" / "dropped-by-hand.txt").write_bytes(b"no header here")

    with pytest.raises(BlobError, match="not a blob file"):
        await store.get("reports", "dropped-by-hand.txt")
    assert [info.name async for info in store.list_blobs("reports")] == ["good"]


async def test_chunks_come_in_the_configured_size(store: LocalBlobStore) -> None:
    await store.put("reports", "r", b"x" * 2500)
    assert [len(c) async for c in store.stream("reports", "r")] == [1024, 1024, 452]


def test_chunk_size_must_be_positive(root: Path) -> None:
    with pytest.raises(ValueError):
        LocalBlobStore(root, chunk_size=0)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_hostile_names_write_nothing_anywhere(tmp_path: Path, name: str) -> None:
    root = tmp_path / "deep" / "root"
    store = LocalBlobStore(root)
    await store.put("backups", "seed", b"x")
    before = tree(tmp_path)

    with pytest.raises(ValueError):
        await store.put("backups", name, b"x", overwrite=True)

    assert tree(tmp_path) == before
