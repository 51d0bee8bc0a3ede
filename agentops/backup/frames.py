"""The encrypted part format: gzip JSONL cut into AES-GCM frames, so parts stream both ways.

A part is a sequence of frames, each ``flag (1 byte) | length (4 bytes, big-endian) | nonce |
ciphertext and tag``. Each frame seals up to `FRAME_BYTES` of the gzip stream. The associated
data binds the backup id, the part name, the frame's index and the flag, so a frame moved to
another part or position fails to open, and only the last frame carries the final flag: a part
cut short at a frame boundary is detected as truncated.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = b"agentops-backup/v1"
FRAME_BYTES = 1024 * 1024  # of compressed plaintext per frame
INFLATE_BYTES = 256 * 1024  # of plaintext inflated at a time when reading
NONCE_BYTES = 12
_HEADER = struct.Struct(">BI")
_MAX_SEALED = FRAME_BYTES + NONCE_BYTES + 16  # nonce and tag around a full frame
_GZIP = 31  # zlib's wbits for a gzip container


class PartFormatError(ValueError):
    """A part's bytes do not open: damaged, truncated, from elsewhere or under another key."""


def _associated(backup_id: str, part: str, index: int, final: bool) -> bytes:
    return b"\x00".join(
        [FORMAT, backup_id.encode(), part.encode(), str(index).encode(), b"1" if final else b"0"]
    )


class FrameWriter:
    """Compresses lines and seals them into frames; `write` and `close` return ready bytes."""

    def __init__(self, aead: AESGCM, backup_id: str, part: str) -> None:
        self._aead = aead
        self._backup_id = backup_id
        self._part = part
        self._gzip = zlib.compressobj(6, zlib.DEFLATED, _GZIP)
        self._pending = bytearray()
        self._index = 0
        self.compressed = 0  # gzip bytes so far, sealed or not

    def write(self, data: bytes) -> bytes:
        out = self._gzip.compress(data)
        self.compressed += len(out)
        self._pending += out
        frames = bytearray()
        while len(self._pending) >= FRAME_BYTES:
            frames += self._seal(bytes(self._pending[:FRAME_BYTES]), final=False)
            del self._pending[:FRAME_BYTES]
        return bytes(frames)

    def close(self) -> bytes:
        tail = self._gzip.flush()
        self.compressed += len(tail)
        self._pending += tail
        frames = bytearray()
        while len(self._pending) > FRAME_BYTES:
            frames += self._seal(bytes(self._pending[:FRAME_BYTES]), final=False)
            del self._pending[:FRAME_BYTES]
        frames += self._seal(bytes(self._pending), final=True)
        self._pending.clear()
        return bytes(frames)

    def _seal(self, plaintext: bytes, *, final: bool) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(
            nonce, plaintext, _associated(self._backup_id, self._part, self._index, final)
        )
        self._index += 1
        return _HEADER.pack(1 if final else 0, len(sealed)) + sealed


async def read_documents(
    chunks: AsyncIterable[bytes], aead: AESGCM, backup_id: str, part: str
) -> AsyncIterator[dict[str, Any]]:
    """The documents of a part, opened frame by frame; PartFormatError on any fault."""
    gunzip = zlib.decompressobj(_GZIP)
    line_tail = b""
    async for compressed in _open_frames(chunks, aead, backup_id, part):
        # Inflated a bounded slice at a time: a frame of very repetitive documents inflates to
        # a hundred times its size, which must not become a hundred times the memory.
        pending = compressed
        while True:
            try:
                out = gunzip.decompress(pending, INFLATE_BYTES)
            except zlib.error as exc:
                raise PartFormatError(f"{part}: not gzip: {exc}") from None
            pending = gunzip.unconsumed_tail
            lines = (line_tail + out).split(b"\n")
            line_tail = lines.pop()
            for doc in _parse(lines, part):
                yield doc
            if not pending and len(out) < INFLATE_BYTES:
                break
    if not gunzip.eof or gunzip.unused_data or line_tail:
        raise PartFormatError(f"{part}: the gzip stream is incomplete")


def _parse(lines: list[bytes], part: str) -> Iterator[dict[str, Any]]:
    for line in lines:
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PartFormatError(f"{part}: a line is not JSON: {exc.msg}") from None
        if not isinstance(doc, dict):
            raise PartFormatError(f"{part}: a line is not a JSON object")
        yield doc


async def _open_frames(
    chunks: AsyncIterable[bytes], aead: AESGCM, backup_id: str, part: str
) -> AsyncIterator[bytes]:
    buffer = bytearray()
    index = 0
    final_seen = False
    async for chunk in chunks:
        buffer += chunk
        while len(buffer) >= _HEADER.size:
            flag, length = _HEADER.unpack_from(buffer)
            if flag not in (0, 1) or length > _MAX_SEALED or length <= NONCE_BYTES:
                raise PartFormatError(f"{part}: frame {index} has a malformed header")
            if len(buffer) < _HEADER.size + length:
                break
            if final_seen:
                raise PartFormatError(f"{part}: data follows the final frame")
            sealed = bytes(buffer[_HEADER.size : _HEADER.size + length])
            del buffer[: _HEADER.size + length]
            try:
                plaintext = aead.decrypt(
                    sealed[:NONCE_BYTES],
                    sealed[NONCE_BYTES:],
                    _associated(backup_id, part, index, flag == 1),
                )
            except InvalidTag:
                raise PartFormatError(
                    f"{part}: frame {index} does not decrypt (damaged, moved or another key)"
                ) from None
            final_seen = flag == 1
            index += 1
            yield plaintext
    if buffer:
        raise PartFormatError(f"{part}: {len(buffer)} stray bytes after frame {index}")
    if not final_seen:
        raise PartFormatError(f"{part}: truncated (no final frame)")
