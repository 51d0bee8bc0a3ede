"""Bicep files read through the tree-sitter Bicep grammar: declarations, resources and the values
the tests check, without the Bicep CLI (which is not on PyPI).

This is a syntax-level reading: it finds syntax errors, names and literal values, not type errors
or what the Bicep compiler's linter would report.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tree_sitter
import tree_sitter_bicep

type Node = tree_sitter.Node

_DECLARATIONS = {
    "parameter_declaration",
    "variable_declaration",
    "resource_declaration",
    "output_declaration",
    "metadata_declaration",
    "module_declaration",
    "type_declaration",
    "function_declaration",
}


@cache
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_bicep.language()))


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def text(node: Node) -> str:
    assert node.text is not None
    return node.text.decode()


def string_value(node: Node) -> str | None:
    """The value of a string literal without interpolation; None for anything else."""
    if node.type != "string" or any(c.type == "interpolation" for c in node.named_children):
        return None
    raw = text(node)
    if raw.startswith("'''"):
        return raw[3:-3]
    return raw[1:-1].replace("\\'", "'").replace("\\\\", "\\")


@dataclass(frozen=True, slots=True)
class Resource:
    symbol: str
    type: str  # e.g. Microsoft.Insights/scheduledQueryRules
    api_version: str
    body: Node  # the object literal

    def property(self, *path: str) -> Node | None:
        """The value node at `path` in the body (keys as identifiers or strings)."""
        node: Node | None = self.body
        for key in path:
            node = object_property(node, key) if node is not None else None
        return node


def object_property(obj: Node, key: str) -> Node | None:
    if obj.type != "object":
        return None
    for prop in obj.named_children:
        if prop.type != "object_property":
            continue
        name = prop.named_children[0]
        name_text = string_value(name) if name.type == "string" else text(name)
        if name_text == key:
            return prop.named_children[-1]
    return None


@dataclass(frozen=True, slots=True)
class BicepFile:
    path: Path
    tree: tree_sitter.Tree

    @classmethod
    def parse(cls, path: Path) -> BicepFile:
        return cls(path, _parser().parse(path.read_bytes()))

    @property
    def root(self) -> Node:
        return self.tree.root_node

    def syntax_errors(self) -> list[str]:
        return [
            f"{self.path.name}:{node.start_point[0] + 1}: {'missing ' if node.is_missing else ''}"
            f"{node.type}"
            for node in walk(self.root)
            if node.is_error or node.is_missing
        ]

    def declarations(self, kind: str) -> list[Node]:
        return [node for node in self.root.named_children if node.type == kind]

    def declared_name(self, declaration: Node) -> str:
        return text(declaration.named_children[0])

    def parameters(self) -> list[str]:
        return [self.declared_name(d) for d in self.declarations("parameter_declaration")]

    def references(self) -> set[str]:
        """Identifiers used as values: not declared names, object keys or called functions."""
        found: set[str] = set()
        for node in walk(self.root):
            if node.type != "identifier":
                continue
            parent = node.parent
            assert parent is not None
            first = parent.named_children[0] if parent.named_children else None
            is_name = first is not None and first.id == node.id
            if parent.type in _DECLARATIONS and is_name:
                continue
            if parent.type == "object_property" and is_name:
                continue
            if parent.type == "call_expression" and is_name:
                continue
            found.add(text(node))
        return found

    def calls(self, function: str) -> list[Node]:
        """The argument lists of every call to `function`."""
        found = []
        for node in walk(self.root):
            if node.type == "call_expression" and text(node.named_children[0]) == function:
                found.append(node.named_children[1])
        return found

    def loaded_files(self) -> list[Path]:
        """Paths given to loadTextContent, relative to this file as Bicep resolves them."""
        paths = []
        for arguments in self.calls("loadTextContent"):
            value = string_value(arguments.named_children[0])
            assert value is not None, f"{self.path.name}: loadTextContent needs a literal path"
            paths.append((self.path.parent / value).resolve())
        return paths

    def resources(self) -> list[Resource]:
        found = []
        for declaration in self.declarations("resource_declaration"):
            symbol, type_node = declaration.named_children[:2]
            type_text = string_value(type_node)
            assert type_text is not None
            resource_type, _, api_version = type_text.partition("@")
            body = declaration.named_children[-1]
            while body.type in ("if_statement", "for_statement"):  # [for ...: if (...) {...}]
                body = body.named_children[-1]
            found.append(Resource(text(symbol), resource_type, api_version, body))
        return found

    def variable(self, name: str) -> Node:
        """The value node of the variable `name`."""
        for declaration in self.declarations("variable_declaration"):
            if self.declared_name(declaration) == name:
                return declaration.named_children[-1]
        raise KeyError(f"{self.path.name}: no variable {name!r}")

    def modules(self) -> list[tuple[str, str]]:
        """(symbol, path as written) of every module declaration."""
        found = []
        for declaration in self.declarations("module_declaration"):
            symbol, source = declaration.named_children[:2]
            value = string_value(source)
            assert value is not None, f"{self.path.name}: {text(symbol)} needs a literal path"
            found.append((text(symbol), value))
        return found


class Expression:
    """A value the tests cannot evaluate (a reference, a call, a condition): kept as its text."""

    __slots__ = ("text",)

    def __init__(self, source: str) -> None:
        self.text = source

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def literal(node: Node) -> object:
    """A Bicep literal as Python: objects, arrays, strings without interpolation, numbers,
    booleans and null; anything else becomes an Expression with its source text."""
    match node.type:
        case "object":
            found: dict[str, object] = {}
            for prop in node.named_children:
                if prop.type != "object_property":
                    continue
                key = prop.named_children[0]
                name = string_value(key) if key.type == "string" else text(key)
                found[str(name)] = literal(prop.named_children[-1])
            return found
        case "array":
            return [literal(item) for item in node.named_children if item.type != "comment"]
        case "string":
            value = string_value(node)
            return Expression(text(node)) if value is None else value
        case "number":
            return int(text(node))
        case "boolean":
            return text(node) == "true"
        case "null":
            return None
    return Expression(text(node))


def object_keys(node: Node) -> set[str]:
    """Every key of every object literal under `node`, at any depth."""
    keys: set[str] = set()
    for found in walk(node):
        if found.type == "object_property":
            key = found.named_children[0]
            keys.add(str(string_value(key) if key.type == "string" else text(key)))
    return keys
