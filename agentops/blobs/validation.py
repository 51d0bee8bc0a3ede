"""The rules every blob argument meets, checked once at each adapter's entry.

They are Azure Blob Storage's rules narrowed to what a local file system can hold too: a name is
a relative path of `/`-separated segments, none empty, `.` or `..`, none longer than a file name
may be, with no backslash, NUL or control character. The local adapter still checks that a
path stays under its root (symbolic links), but a hostile name never gets that far.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MAX_NAME_CHARS = 1024  # Azure's limit for a blob name
MAX_SEGMENT_BYTES = 255  # a file name on common file systems
MAX_METADATA_BYTES = 8 * 1024  # Azure's limit for all names and values together
MAX_CONTENT_TYPE_CHARS = 255

# Azure: 3-63 lowercase letters, digits and single hyphens, starting with a letter or digit.
_CONTAINER = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Azure metadata names are C# identifiers, compared without case: lowercase keeps both sides equal.
_METADATA_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")
_CONTENT_TYPE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")


def check_container(container: str) -> str:
    if not isinstance(container, str) or not _CONTAINER.fullmatch(container):
        raise ValueError(
            "a container name is 3-63 lowercase letters, digits and single hyphens, "
            f"starting and ending with a letter or digit: {container!r}"
        )
    return container


def check_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError("a blob name is a non-empty string")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"a blob name has at most {MAX_NAME_CHARS} characters")
    if "\\" in name or _CONTROL.search(name):
        raise ValueError(f"a blob name has no backslash, NUL or control character: {name!r}")
    if name.endswith("."):
        raise ValueError(f"a blob name does not end with a dot: {name!r}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"a blob name is valid Unicode text: {name!r}") from None
    for segment in name.split("/"):
        if segment in {"", ".", ".."}:
            raise ValueError(
                "a blob name is a relative path without empty, '.' or '..' segments "
                f"(and no leading or trailing '/'): {name!r}"
            )
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise ValueError(f"each part of a name has at most {MAX_SEGMENT_BYTES} bytes (UTF-8)")
    return name


def check_prefix(prefix: str) -> str:
    """A listing prefix: the start of some valid name (it may end with '/' or mid-segment)."""
    if not isinstance(prefix, str):
        raise ValueError("a prefix is a string")
    if prefix:
        check_name(prefix + "x")
    return prefix


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    if metadata is None:
        return {}
    checked: dict[str, str] = {}
    total = 0
    for key, value in metadata.items():
        if not isinstance(key, str) or not _METADATA_NAME.fullmatch(key):
            raise ValueError(f"a metadata name is a lowercase identifier: {key!r}")
        if (
            not isinstance(value, str)
            or not _HEADER_VALUE.fullmatch(value)
            or value != value.strip()
        ):
            raise ValueError(
                f"metadata {key!r}: a value is printable ASCII without surrounding spaces"
            )
        total += len(key) + len(value)
        checked[key] = value
    if total > MAX_METADATA_BYTES:
        raise ValueError(f"metadata names and values come to at most {MAX_METADATA_BYTES} bytes")
    return checked


def check_content_type(content_type: str) -> str:
    if (
        not isinstance(content_type, str)
        or len(content_type) > MAX_CONTENT_TYPE_CHARS
        or not _CONTENT_TYPE.fullmatch(content_type)
    ):
        raise ValueError(f"a content type is printable ASCII text: {content_type!r}")
    return content_type
