"""Uploaded and generated files, kept in memory, and the multipart parsing of an upload."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any

PURPOSES = frozenset({"batch", "batch_output", "assistants", "fine-tune", "user_data", "evals"})


@dataclass(slots=True)
class StoredFile:
    id: str
    filename: str
    purpose: str
    created_at: int
    content: bytes

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
        }


class FileStore:
    """Files in creation order, so that listing and ``after`` cursors follow it."""

    def __init__(self) -> None:
        self._files: dict[str, StoredFile] = {}
        self._ids = itertools.count(1)

    def add(self, filename: str, purpose: str, content: bytes, now: int) -> StoredFile:
        stored = StoredFile(f"file-sim{next(self._ids):020d}", filename, purpose, now, content)
        self._files[stored.id] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        return self._files.get(file_id)

    def delete(self, file_id: str) -> bool:
        return self._files.pop(file_id, None) is not None

    def listed(self, purpose: str | None, newest_first: bool) -> list[StoredFile]:
        files = [f for f in self._files.values() if purpose is None or f.purpose == purpose]
        return files[::-1] if newest_first else files


@dataclass(frozen=True, slots=True)
class FormPart:
    filename: str | None
    data: bytes


def parse_form(content_type: str, body: bytes) -> dict[str, FormPart]:
    """The parts of a ``multipart/form-data`` body by field name; empty if it is not one.

    The standard library's MIME parser does it, so the simulator needs no form library."""
    if not content_type.lower().startswith("multipart/form-data"):
        return {}
    header = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(header + body)
    if not message.is_multipart():
        return {}
    parts: dict[str, FormPart] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        parts[name] = FormPart(part.get_filename(), data)
    return parts
