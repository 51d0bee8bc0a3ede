"""The tool-call convention: which offered tool a user message asks for, and its arguments.

A tool is asked for when a word of the message is a word of the tool's name (split at ``_``,
``-``, ``.`` and camelCase; words of three letters or more, generic verbs such as ``get`` aside),
or, failing that, when two words of its description (five letters or more) appear in the
message. Plural and ``-ing``/``-ed`` forms count. The best score wins; ties go to the tool offered
first. Arguments follow the tool's JSON schema:

- ``name=value`` or ``name: value`` in the message sets that parameter;
- numbers in the message fill ``integer``/``number`` parameters in schema order;
- strings take, in turn, quoted text, capitalised words not at the start of a sentence, the
  words after the last ``in``/``for``/``at``/``about``/``of``/``from``/``to``/``named``/``called``,
  and the remaining words; enums take the value the message names, else their first value;
- booleans are true when the message says ``true`` or ``yes``; arrays of numbers take all numbers.

Only required parameters must be filled (optional ones are set when the message names them).
If a required parameter cannot be filled, the next tool is tried, and if none fits the model
answers in text. ``tool_choice`` with a named function or ``"required"`` always calls a tool,
filling what it cannot find with zero values.

So ``add 2 and 3`` calls a tool named ``add`` with ``{"a": 2, "b": 3}``, and
``What's the weather in Paris?`` calls ``get_weather`` with ``{"location": "Paris"}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9']*")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*[A-Za-z])")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")
_QUOTED = re.compile(r"\"([^\"]+)\"|'([^']+)'")
_PAIR = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*[=:]\s*(\"[^\"]*\"|'[^']*'|[^\s,;]+)")
_CAPITALISED_RUN = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z]+(?:\s+[A-Z][a-zA-Z]+)*")
_AFTER_PREPOSITION = re.compile(
    r"\b(?:in|for|at|about|of|from|to|named|called)\s+([^.,;!?]+)", re.IGNORECASE
)
_GENERIC = frozenset(
    {"get", "set", "list", "run", "call", "tool", "tools", "make", "the", "and", "for", "with"}
)
_STOPWORDS = frozenset(
    {
        "a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "for", "from", "by", "with",
        "about", "is", "are", "be", "what", "what's", "whats", "how", "please", "me", "my", "i",
        "you", "it", "its", "this", "that", "can", "could", "would", "tell", "give", "show",
        "do", "does", "use", "using", "named", "called", "then", "number", "numbers", "value",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """A tool call the simulated model makes."""

    name: str
    arguments: dict[str, Any]


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _name_words(name: str) -> set[str]:
    words = _SPLIT.split(_CAMEL.sub(r"\1 \2", name).lower())
    return {_stem(w) for w in words if len(w) >= 3 and w not in _GENERIC}


def _score(tool: dict[str, Any], query_words: set[str]) -> int:
    function = tool["function"]
    by_name = len(_name_words(function["name"]) & query_words)
    if by_name:
        return 10 * by_name
    description = str(function.get("description") or "").lower()
    described = {_stem(w) for w in _WORD.findall(description) if len(w) >= 5}
    by_description = len((described - _STOPWORDS) & query_words)
    return by_description if by_description >= 2 else 0


def plan_tool_call(
    query: str, tools: list[dict[str, Any]], tool_choice: str | dict[str, Any]
) -> PlannedCall | None:
    """The call ``query`` asks for among ``tools``, or None to answer in text."""
    if not tools or tool_choice == "none":
        return None
    if isinstance(tool_choice, dict):
        wanted = tool_choice["function"]["name"]
        tool = next(t for t in tools if t["function"]["name"] == wanted)
        return PlannedCall(wanted, _fill_arguments(query, tool, forced=True) or {})
    query_words = {_stem(w.lower()) for w in _WORD.findall(query)}
    scored = [(_score(tool, query_words), -i, tool) for i, tool in enumerate(tools)]
    for score, _, tool in sorted(scored, key=lambda item: item[:2], reverse=True):
        if score <= 0:
            break
        arguments = _fill_arguments(query, tool, forced=False)
        if arguments is not None:
            return PlannedCall(tool["function"]["name"], arguments)
    if tool_choice == "required":
        tool = tools[0]
        return PlannedCall(tool["function"]["name"], _fill_arguments(query, tool, True) or {})
    return None


class _Source:
    """The values a message offers, consumed as parameters take them."""

    def __init__(self, query: str, tool_name: str) -> None:
        self.query = query
        self.lower_words = {w.lower() for w in _WORD.findall(query)}
        self.pairs: dict[str, str] = {}
        for key, value in _PAIR.findall(query):
            self.pairs.setdefault(key, value.strip("\"'"))
        free = _PAIR.sub(" ", query)
        # In query order, so that "from kg to lb" gives the first enum parameter kg, the next lb.
        self.tokens = [t.lower() for t in re.findall(r"[A-Za-z0-9']+", _DATE.sub(" ", free))]
        self.dates = _DATE.findall(free)
        query = _DATE.sub(" ", query)  # a date is one value, not three numbers
        pair_spans = [m.span(2) for m in _PAIR.finditer(query)]
        self.numbers = [
            m.group()
            for m in _NUMBER.finditer(query)
            if not any(start <= m.start() < end for start, end in pair_spans)
        ]
        skip = _name_words(tool_name) | _STOPWORDS
        text = _PAIR.sub(" ", query)  # explicit pairs are not free text
        strings = [a or b for a, b in _QUOTED.findall(text)]
        unquoted = _QUOTED.sub(" ", text)
        strings += _CAPITALISED_RUN.findall(unquoted)
        after = _AFTER_PREPOSITION.findall(unquoted)
        if after:
            strings.append(after[-1].strip())
        rest = [
            w
            for w in _WORD.findall(unquoted)
            if w.lower() not in skip and _stem(w.lower()) not in skip
        ]
        if rest:
            strings.append(" ".join(rest))
        seen: set[str] = set()
        self.strings = [s for s in strings if s and not (s in seen or seen.add(s))]


def _fill_arguments(query: str, tool: dict[str, Any], forced: bool) -> dict[str, Any] | None:
    function = tool["function"]
    schema = function.get("parameters") or {}
    properties: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    source = _Source(query, function["name"])
    arguments: dict[str, Any] = {}
    for name, prop in properties.items():
        prop = prop if isinstance(prop, dict) else {}
        explicit = source.pairs.get(name)
        if explicit is not None:
            arguments[name] = _coerce(explicit, prop)
            continue
        if name not in required:
            continue
        value = _take(source, prop)
        if value is None:
            if not forced:
                return None
            value = _zero(prop)
        arguments[name] = value
    return arguments


def _kind(prop: dict[str, Any]) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):  # e.g. ["string", "null"]
        kind = next((k for k in kind if k != "null"), "string")
    if kind is None and "anyOf" in prop:
        options = [o for o in prop["anyOf"] if isinstance(o, dict) and o.get("type") != "null"]
        return _kind(options[0]) if options else "string"
    return str(kind or "string")


def _take(source: _Source, prop: dict[str, Any]) -> Any:
    kind = _kind(prop)
    if prop.get("enum"):
        # The first value the query names, consumed; none named: this tool does not fit.
        options = {str(option).lower(): option for option in prop["enum"]}
        for position, token in enumerate(source.tokens):
            if token in options:
                del source.tokens[position]
                return options[token]
        return None
    if prop.get("format") == "date":
        return source.dates.pop(0) if source.dates else None
    if kind in ("integer", "number"):
        if not source.numbers:
            return None
        return _number(source.numbers.pop(0), kind)
    if kind == "boolean":
        return bool(source.lower_words & {"true", "yes"})
    if kind == "array":
        items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
        if _kind(items) in ("integer", "number"):
            values = [_number(n, _kind(items)) for n in source.numbers]
            source.numbers.clear()
            return values or None
        return [source.strings.pop(0)] if source.strings else None
    if kind == "object":
        return {}
    return source.strings.pop(0) if source.strings else None


def _number(text: str, kind: str) -> int | float:
    value = float(text)
    if kind == "integer" or value.is_integer():
        return int(value)
    return value


def _coerce(text: str, prop: dict[str, Any]) -> Any:
    kind = _kind(prop)
    try:
        if kind in ("integer", "number"):
            return _number(text, kind)
    except ValueError:
        return text
    if kind == "boolean":
        return text.lower() in ("true", "yes", "1")
    return text


def _zero(prop: dict[str, Any]) -> Any:
    return {"integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}.get(
        _kind(prop), ""
    )
