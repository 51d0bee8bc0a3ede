"""Argument checks shared by the adapters, so both refuse the same bad input before any write."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from agentops.store.records import ITEM_TEXT_FIELDS, Message, Page, ThreadOwner

# Cosmos DB forbids these in ids; both adapters refuse them so they accept the same keys.
_FORBIDDEN_ID_CHARS = re.compile(r"[/\\?#\x00-\x1f\x7f]")
MAX_KEY_LENGTH = 255
MAX_PAGE = 1000


def check_key(name: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    if len(value) > MAX_KEY_LENGTH:
        raise ValueError(f"{name} is longer than {MAX_KEY_LENGTH} characters")
    if _FORBIDDEN_ID_CHARS.search(value):
        raise ValueError(f"{name} must not contain '/', '\\', '?', '#' or control characters")
    return value


def check_index(index: int) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"item index must be an int >= 0, got {index!r}")
    return index


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    return limit


def check_queries(queries: Sequence[str]) -> Sequence[str]:
    if isinstance(queries, str):
        raise TypeError("queries must be a sequence of strings, not a string")
    for position, query in enumerate(queries):
        if not isinstance(query, str):
            raise TypeError(f"queries[{position}] must be a string")
    return queries


def check_messages(messages: Sequence[Message], max_messages: int) -> tuple[Message, ...]:
    if isinstance(max_messages, bool) or not isinstance(max_messages, int) or max_messages < 1:
        raise ValueError("max_messages must be an int >= 1")
    result = tuple(messages)
    for position, message in enumerate(result):
        if not isinstance(message, Message):
            raise TypeError(f"messages[{position}] must be a Message")
    return result


def check_owner(owner: ThreadOwner) -> ThreadOwner:
    if not isinstance(owner, ThreadOwner):
        raise TypeError("owner must be a ThreadOwner")
    check_key("tenant_id", owner.tenant_id)
    for name, value in (("principal", owner.principal), ("agent", owner.agent)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"owner {name} must be a non-empty string")
    return owner


def check_text_field(field: str, expected: str, new: str) -> str:
    if field not in ITEM_TEXT_FIELDS:
        raise ValueError(f"field must be one of {', '.join(ITEM_TEXT_FIELDS)}, not {field!r}")
    if not isinstance(expected, str) or not isinstance(new, str):
        raise TypeError("expected and new must be strings")
    return field


def check_texts(texts: Sequence[str]) -> tuple[str, ...]:
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not a string")
    result = tuple(texts)
    for position, text in enumerate(result):
        if not isinstance(text, str):
            raise TypeError(f"texts[{position}] must be a string")
    return result


def check_ttl(ttl_s: int) -> int:
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s < 1:
        raise ValueError("ttl_s must be an int >= 1 (seconds)")
    return ttl_s


def check_amounts(tokens: int, cost: float) -> None:
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        raise ValueError("tokens must be an int >= 0")
    if not isinstance(cost, int | float) or not math.isfinite(cost) or cost < 0:
        raise ValueError("cost must be a finite number >= 0")


def check_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """A half-open time range [start, end) of aware datetimes that ends after it starts."""
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"{name} must be a timezone-aware datetime")
    if end <= start:
        raise ValueError("a period must end after it starts")
    return start, end


def day_id(day: date) -> str:
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError("day must be a datetime.date (the UTC day)")
    return day.isoformat()


def encode_cursor(*parts: str | int) -> str:
    """An opaque continuation token for keyset pagination."""
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def decode_cursor(token: str, arity: int) -> list[Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        parts = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise ValueError("continuation token is not valid") from exc
    if not isinstance(parts, list) or len(parts) != arity:
        raise ValueError("continuation token is not valid")
    return parts


def keyset_after(
    columns: Sequence[str], values: Sequence[Any], mark: str, *, descending: bool = False
) -> tuple[str, dict[str, Any]]:
    """The condition for rows strictly past `values` in ORDER BY `columns` order, and its params.

    `(a > x OR (a = x AND (b > y OR (b = y AND c > z))))` for three columns, on named parameters
    that start with `mark` (`:` in SQLite, `@` in Cosmos DB SQL).
    """
    op = "<" if descending else ">"
    names = [f"after{position}" for position in range(len(columns))]
    condition = f"{columns[-1]} {op} {mark}{names[-1]}"
    for column, name in zip(columns[-2::-1], names[-2::-1], strict=True):
        condition = f"({column} {op} {mark}{name} OR ({column} = {mark}{name} AND {condition}))"
    return condition, dict(zip(names, values, strict=True))


def page_of[T](
    docs: Sequence[Mapping[str, Any]],
    limit: int,
    keys: Sequence[str],
    convert: Callable[[Mapping[str, Any]], T],
) -> Page[T]:
    """A page from `limit + 1` documents read in order: the extra one only says there is more,
    and the cursor is the sort key (`keys`) of the last document kept."""
    kept = docs[:limit]
    cursor = encode_cursor(*(kept[-1][key] for key in keys)) if len(docs) > limit else None
    return Page([convert(doc) for doc in kept], cursor)
