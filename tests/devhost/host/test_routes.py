"""Route templates in Azure's syntax, compiled and matched without a server."""

from __future__ import annotations

import pytest

from devhost.routes import RouteMatch, RouteTable, RouteTemplate, RouteTemplateError


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("api/items/{id}", "/api/items/abc", {"id": "abc"}),
        ("api/items/{id}", "/API/Items/abc", {"id": "abc"}),
        ("api/items/{id:int}", "/api/items/12", {"id": "12"}),
        ("api/items/{id:int}", "/api/items/x12", None),
        ("api/items/{id?}", "/api/items", {}),
        ("api/items/{id:int?}", "/api/items/5", {"id": "5"}),
        ("api/items/{page=1}", "/api/items", {"page": "1"}),
        ("api/files/{*path}", "/api/files/a/b/c.txt", {"path": "a/b/c.txt"}),
        ("api/v{version}/x", "/api/v3/x", {"version": "3"}),
        (
            "api/items/{id:guid}",
            "/api/items/6f9619ff-8b86-d011-b42d-00c04fc964ff",
            {"id": "6f9619ff-8b86-d011-b42d-00c04fc964ff"},
        ),
        ("api/items/{id:guid}", "/api/items/nope", None),
        ("api/n/{n:int:range(1,5)}", "/api/n/3", {"n": "3"}),
        ("api/n/{n:int:range(1,5)}", "/api/n/9", None),
        ("api/s/{s:minlength(3)}", "/api/s/ab", None),
        ("api/s/{s:regex(^[a-z]+$)}", "/api/s/abc", {"s": "abc"}),
        ("api/s/{s:regex(^[a-z]+$)}", "/api/s/ab1", None),
        ("api/s/{s}", "/api/s/a%20b", {"s": "a b"}),
        ("api/s/{s}", "/api/s/a/b", None),
    ],
)
def test_template_matching(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert RouteTemplate(template).match(path) == expected


@pytest.mark.parametrize(
    "template", ["api/{id", "api/{a}/{a}", "api/{1x}", "api//x", "api/{x:nope}"]
)
def test_bad_templates_are_rejected(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        RouteTemplate(template)


def test_table_prefers_literals_and_reports_allowed_methods() -> None:
    table: RouteTable[str] = RouteTable()
    table.add("api/items/{name}", ["GET"], "by-name")
    table.add("api/items/special", ["GET"], "special")
    table.add("api/items/{name}", ["DELETE"], "delete")
    found = table.resolve("/api/items/special", "GET")
    assert isinstance(found, RouteMatch) and found.target == "special"
    found = table.resolve("/api/items/other", "DELETE")
    assert isinstance(found, RouteMatch) and found.target == "delete"
    assert table.resolve("/api/items/other", "PUT") == {"GET", "DELETE"}
    assert table.resolve("/api/other", "GET") is None
