"""HTTP trigger route templates in the Functions (ASP.NET Core) syntax, matched against paths.

Supported: literal segments, `{name}`, `{name?}` (optional), `{name=default}`, `{*rest}`
(catch-all) and the common inline constraints (`int`, `long`, `bool`, `guid`, `alpha`, `double`,
`float`, `decimal`, `datetime`, `min(n)`, `max(n)`, `range(a,b)`, `length(n)`, `length(a,b)`,
`minlength(n)`, `maxlength(n)`, `regex(expr)`). Literals match case-insensitively, as in Azure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

_PARAM = re.compile(r"\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
_NAME = re.compile(r"\*{0,2}[A-Za-z_][A-Za-z0-9_]*")

_PATTERNS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "bool": r"(?i:true|false)",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
    "alpha": r"[A-Za-z]+",
    "double": r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?",
    "float": r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
    "datetime": (
        r"\d{4}-\d{2}-\d{2}"
        r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[-+]\d{2}:?\d{2})?)?"
    ),
}


class RouteTemplateError(ValueError):
    """A route template that cannot be compiled."""


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    pattern: str
    checks: tuple[Callable[[str], bool], ...]
    optional: bool
    default: str | None
    catch_all: bool


def _split_constraints(spec: str) -> list[str]:
    """Split `int:min(1):regex(a:b)` on colons that are not inside parentheses."""
    parts: list[str] = []
    depth = 0
    current = ""
    for char in spec:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == ":" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _constraint(text: str, template: str) -> tuple[str | None, Callable[[str], bool] | None]:
    match = re.fullmatch(r"([a-z]+)(?:\((.*)\))?", text, re.S)
    if not match:
        raise RouteTemplateError(f"route {template!r}: bad constraint {text!r}")
    kind, arg = match.group(1), match.group(2)
    if arg is None and kind in _PATTERNS:
        return _PATTERNS[kind], None
    if kind == "regex" and arg is not None:
        try:
            compiled = re.compile(arg)
        except re.error as error:
            raise RouteTemplateError(f"route {template!r}: bad regex {arg!r}: {error}") from None
        return None, lambda value: compiled.search(value) is not None
    numbers = [int(n) for n in re.findall(r"-?\d+", arg or "")]
    checks: dict[str, Callable[[list[int]], Callable[[str], bool]]] = {
        "min": lambda n: lambda v: int(v) >= n[0],
        "max": lambda n: lambda v: int(v) <= n[0],
        "range": lambda n: lambda v: n[0] <= int(v) <= n[1],
        "minlength": lambda n: lambda v: len(v) >= n[0],
        "maxlength": lambda n: lambda v: len(v) <= n[0],
        "length": lambda n: (
            (lambda v: len(v) == n[0]) if len(n) == 1 else lambda v: n[0] <= len(v) <= n[1]
        ),
    }
    expected = {"min": 1, "max": 1, "range": 2, "minlength": 1, "maxlength": 1}
    if kind in checks and (len(numbers) == expected.get(kind, len(numbers)) and numbers):
        pattern = r"-?\d+" if kind in {"min", "max", "range"} else None
        return pattern, checks[kind](numbers)
    raise RouteTemplateError(f"route {template!r}: unsupported constraint {text!r}")


def _parse_param(body: str, template: str) -> _Param:
    head, *constraints = _split_constraints(body)
    default: str | None = None
    if "=" in head:
        head, default = head.split("=", 1)
    optional = head.endswith("?") or default is not None
    head = head.rstrip("?")
    if not _NAME.fullmatch(head):
        raise RouteTemplateError(f"route {template!r}: bad parameter name {head!r}")
    catch_all = head.startswith("*")
    name = head.lstrip("*")
    pattern = ".*" if catch_all else "[^/]+"
    checks: list[Callable[[str], bool]] = []
    for text in constraints:
        if text.endswith("?"):
            optional = True
            text = text[:-1]
        constraint_pattern, check = _constraint(text, template)
        if constraint_pattern:
            pattern = constraint_pattern
        if check:
            checks.append(check)
    return _Param(name, pattern, tuple(checks), optional or catch_all, default, catch_all)


@dataclass(slots=True)
class RouteTemplate:
    """One compiled template; `match` returns the route parameters or None."""

    template: str
    regex: re.Pattern[str] = field(init=False)
    params: list[_Param] = field(init=False)
    precedence: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        text = self.template.strip("/")
        self.params = []
        parts: list[str] = []
        rank: list[int] = []
        segments = text.split("/") if text else []
        for segment in segments:
            if not segment:
                raise RouteTemplateError(f"route {self.template!r}: empty segment")
            pieces = _PARAM.split(segment)
            if any("{" in p or "}" in p for p in pieces[::2]):
                raise RouteTemplateError(f"route {self.template!r}: unbalanced braces")
            literal_only = len(pieces) == 1
            segment_regex = ""
            whole_optional = False
            for index, piece in enumerate(pieces):
                if index % 2 == 0:
                    segment_regex += re.escape(unquote(piece))
                    continue
                param = _parse_param(piece, self.template)
                if any(p.name.lower() == param.name.lower() for p in self.params):
                    raise RouteTemplateError(f"route {self.template!r}: {param.name!r} twice")
                self.params.append(param)
                group = f"(?P<p{len(self.params) - 1}>{param.pattern})"
                if param.optional and len(pieces) == 3 and not pieces[0] and not pieces[2]:
                    whole_optional = True
                    segment_regex += group
                else:
                    segment_regex += group + ("?" if param.optional else "")
            if whole_optional:
                parts.append(f"(?:/{segment_regex})?")
            else:
                parts.append("/" + segment_regex)
            if literal_only:
                rank.append(0)
            else:
                last = self.params[-1]
                rank.append(
                    4
                    if last.catch_all
                    else 3
                    if last.optional
                    else 1
                    if last.checks or last.pattern != "[^/]+"
                    else 2
                )
        self.regex = re.compile("^" + "".join(parts) + "/?$", re.IGNORECASE)
        # More literal, more constrained segments first; longer templates break ties.
        self.precedence = (*rank, 5)

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.match(path if path.startswith("/") else "/" + path)
        if not found:
            return None
        values: dict[str, str] = {}
        for index, param in enumerate(self.params):
            raw = found.group(f"p{index}")
            if raw is None or raw == "":
                if param.default is not None:
                    values[param.name] = param.default
                continue
            value = unquote(raw)
            try:
                if not all(check(value) for check in param.checks):
                    return None
            except ValueError:
                return None
            values[param.name] = value
        return values


@dataclass(frozen=True, slots=True)
class RouteMatch[T]:
    target: T
    route_params: Mapping[str, str]


class RouteTable[T]:
    """Routes with their methods; tells a 404 (no template matches) from a 405 (wrong method)."""

    def __init__(self) -> None:
        self._entries: list[tuple[RouteTemplate, frozenset[str], T]] = []

    def add(self, template: str, methods: Iterable[str], target: T) -> None:
        compiled = RouteTemplate(template)
        self._entries.append((compiled, frozenset(m.upper() for m in methods), target))
        self._entries.sort(key=lambda entry: entry[0].precedence)

    def resolve(self, path: str, method: str) -> RouteMatch[T] | set[str] | None:
        """The match, or the allowed methods when only the method is wrong, or None (404)."""
        allowed: set[str] = set()
        for template, methods, target in self._entries:
            params = template.match(path)
            if params is None:
                continue
            if method.upper() in methods:
                return RouteMatch(target, params)
            allowed |= methods
        return allowed or None
