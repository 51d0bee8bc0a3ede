"""Blobs in a local folder: the offline default (`BLOB_STORE=local`, `BLOB_ROOT`).

Layout: `<root>/<container>/<name>`, the name's `/` segments as folders, made on demand and
owner-only. Each blob is one file, a JSON header line (content type, metadata, etag) and then the
content, so a blob and its properties are replaced together. Writes go to a temp file under
`<root>/.incoming` (no container name starts with a dot), are synced, and appear under their
name in one step: `os.replace`, or `os.link` for a conditional create, which fails atomically when
the name is taken. Paths are checked to resolve inside the root, so a symbolic link placed under
it cannot lead a write or a read elsewhere.

A name cannot be both a blob and a folder of other blobs here (`a` and `a/b`), which Azure
allows; such a write raises ValueError.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from agentops.blobs.port import (
    DEFAULT_CONTENT_TYPE,
    BlobData,
    BlobError,
    BlobExistsError,
    BlobInfo,
    BlobNotFoundError,
)
from agentops.blobs.validation import (
    check_container,
    check_content_type,
    check_metadata,
    check_name,
    check_prefix,
)

logger = logging.getLogger(__name__)

_INCOMING = ".incoming"
_MAX_HEADER_BYTES = 64 * 1024
_FORMAT_VERSION = 1
_NOT_THERE = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class LocalBlobStore:
    """The blob port over a folder. File work runs in worker threads, one chunk at a time."""

    def __init__(self, root: Path | str, *, chunk_size: int = 4 * 1024 * 1024) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size is at least 1 byte")
        self._root = Path(root).resolve()
        self._chunk_size = chunk_size

    @property
    def root(self) -> Path:
        return self._root

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def put(
        self,
        container: str,
        name: str,
        data: BlobData,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: Mapping[str, str] | None = None,
        overwrite: bool = False,
    ) -> BlobInfo:
        path = self._path(container, name)
        content_type = check_content_type(content_type)
        checked = check_metadata(metadata)
        etag = f'"{uuid.uuid4().hex}"'
        header = {
            "v": _FORMAT_VERSION,
            "content_type": content_type,
            "metadata": checked,
            "etag": etag,
        }
        if not isinstance(data, bytes | bytearray | memoryview) and not hasattr(data, "__aiter__"):
            raise TypeError("blob data is bytes or an async iterable of bytes")
        encoded = _encode_header(header)
        file, temp = await asyncio.to_thread(self._open_temp)
        try:
            await asyncio.to_thread(file.write, encoded)
            if isinstance(data, bytes | bytearray | memoryview):
                await asyncio.to_thread(file.write, data)
            else:
                async for chunk in data:
                    if not isinstance(chunk, bytes | bytearray | memoryview):
                        raise TypeError("blob chunks are bytes")
                    await asyncio.to_thread(file.write, chunk)
            written = await asyncio.to_thread(_sync_and_close, file)
            await asyncio.to_thread(self._publish, temp, path, container, name, overwrite)
        finally:
            file.close()
            await asyncio.to_thread(_unlink_quietly, temp)
        # From the file as written: a head() now could see a concurrent writer's blob.
        return BlobInfo(
            container=container,
            name=name,
            size=written.st_size - len(encoded),
            content_type=content_type,
            etag=etag,
            last_modified=datetime.fromtimestamp(written.st_mtime, UTC),
            metadata=checked,
        )

    async def get(self, container: str, name: str) -> bytes:
        path = self._path(container, name)
        file, _ = await asyncio.to_thread(self._open_blob, path, container, name)
        try:
            return await asyncio.to_thread(file.read)
        finally:
            file.close()

    async def stream(self, container: str, name: str) -> AsyncIterator[bytes]:
        path = self._path(container, name)
        file, _ = await asyncio.to_thread(self._open_blob, path, container, name)
        try:
            while chunk := await asyncio.to_thread(file.read, self._chunk_size):
                yield chunk
        finally:
            file.close()

    async def head(self, container: str, name: str) -> BlobInfo:
        path = self._path(container, name)
        return await asyncio.to_thread(self._head, path, container, name)

    async def list_blobs(self, container: str, prefix: str = "") -> AsyncIterator[BlobInfo]:
        check_container(container)
        check_prefix(prefix)
        names = await asyncio.to_thread(self._names, container, prefix)
        for name in names:
            try:
                path = self._path(container, name)
                yield await asyncio.to_thread(self._head, path, container, name)
            except BlobNotFoundError:
                continue  # deleted since the folder was read
            except BlobError:
                logger.warning("skipping a file that is not a blob in container %s", container)

    async def delete(self, container: str, name: str, *, missing_ok: bool = False) -> None:
        path = self._path(container, name)
        await asyncio.to_thread(self._delete, path, container, name, missing_ok)

    # Everything below runs in a worker thread.

    def _path(self, container: str, name: str) -> Path:
        return self._root.joinpath(check_container(container), *check_name(name).split("/"))

    def _inside(self, path: Path) -> None:
        # Every path is built from the resolved root and checked names, so it differs from its
        # real path only when a symbolic link below the root is on the way.
        if os.path.realpath(path) != str(path):
            raise ValueError("a blob path passes through a symbolic link under the blob root")

    def _make_folders(self, folder: Path) -> None:
        """Make ``folder`` and its missing parents below the root, each owner-only (os.makedirs
        would give the intermediate ones the default mode), refusing to step through a link."""
        self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self._root
        for part in folder.relative_to(self._root).parts:
            target = target / part
            try:
                target.mkdir(mode=0o700)
            except FileExistsError:
                if not target.is_dir():
                    raise ValueError("a blob name uses another blob's name as a folder") from None
            self._inside(target)

    def _open_temp(self) -> tuple[IO[bytes], Path]:
        incoming = self._root / _INCOMING
        self._make_folders(incoming)
        fd, temp = tempfile.mkstemp(dir=incoming, prefix="put-")  # mode 0600
        return os.fdopen(fd, "wb"), Path(temp)

    def _publish(self, temp: Path, path: Path, container: str, name: str, overwrite: bool) -> None:
        for _ in range(5):  # a concurrent delete may remove an emptied folder in between
            self._make_folders(path.parent)
            self._inside(path)
            if path.is_dir():
                raise ValueError("a blob name is already a folder of other blobs")
            try:
                if overwrite:
                    os.replace(temp, path)
                else:
                    os.link(temp, path)  # fails if the name exists, atomically
                _sync_folder(path.parent)
                return
            except FileExistsError:
                raise BlobExistsError(container, name) from None
            except FileNotFoundError:
                if not temp.exists():
                    raise
        raise BlobError("the blob's folder kept disappearing while it was written")

    def _open_blob(self, path: Path, container: str, name: str) -> tuple[IO[bytes], dict[str, Any]]:
        self._inside(path)
        try:
            file = open(path, "rb")  # noqa: SIM115 - the caller closes it
        except _NOT_THERE:
            raise BlobNotFoundError(container, name) from None
        try:
            line = file.readline(_MAX_HEADER_BYTES)
            header = json.loads(line) if line.endswith(b"\n") else None
            if not isinstance(header, dict) or header.get("v") != _FORMAT_VERSION:
                raise BlobError(f"{name!r} in container {container!r} is not a blob file")
            header["offset"] = len(line)
        except BaseException:
            file.close()
            raise
        return file, header

    def _head(self, path: Path, container: str, name: str) -> BlobInfo:
        file, header = self._open_blob(path, container, name)
        with file:
            stat = os.fstat(file.fileno())
        return BlobInfo(
            container=container,
            name=name,
            size=stat.st_size - header["offset"],
            content_type=header["content_type"],
            etag=header["etag"],
            last_modified=datetime.fromtimestamp(stat.st_mtime, UTC),
            metadata=dict(header["metadata"]),
        )

    def _names(self, container: str, prefix: str) -> list[str]:
        base = self._root / container
        start = base.joinpath(*prefix.rpartition("/")[0].split("/")) if "/" in prefix else base
        if not start.is_dir():
            return []
        self._inside(start)
        names = []
        for folder, folders, files in os.walk(start):  # does not follow symbolic links
            relative = Path(folder).relative_to(base).as_posix()
            for file in files:
                name = file if relative == "." else f"{relative}/{file}"
                if name.startswith(prefix) and not os.path.islink(os.path.join(folder, file)):
                    names.append(name)
            folders[:] = [f for f in folders if not os.path.islink(os.path.join(folder, f))]
        return sorted(names)

    def _delete(self, path: Path, container: str, name: str, missing_ok: bool) -> None:
        self._inside(path)
        try:
            path.unlink()
        except _NOT_THERE:
            if missing_ok:
                return
            raise BlobNotFoundError(container, name) from None
        except PermissionError:
            if not path.is_dir():  # macOS answers EPERM for a folder
                raise
            if not missing_ok:
                raise BlobNotFoundError(container, name) from None
            return
        # Drop folders the delete emptied, so that pruned backups leave no trail of them.
        base = self._root / container
        for folder in path.parents:
            if folder == base:
                break
            try:
                folder.rmdir()
            except OSError:
                break


def _encode_header(header: dict[str, Any]) -> bytes:
    # json.dumps escapes newlines inside strings, so the header is exactly one line.
    return json.dumps(header, separators=(",", ":")).encode("ascii") + b"\n"


def _sync_and_close(file: IO[bytes]) -> os.stat_result:
    file.flush()
    os.fsync(file.fileno())
    written = os.fstat(file.fileno())
    file.close()
    return written


def _sync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    path.unlink(missing_ok=True)
