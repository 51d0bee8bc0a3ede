"""Authorization levels and keys, as the Functions host enforces them."""

from __future__ import annotations

import httpx
import pytest

from devhost.testing import Devhost


def test_anonymous_needs_no_key(client: httpx.Client) -> None:
    assert client.get("/api/items/x").status_code == 200


@pytest.mark.parametrize("path", ["/api/keyed", "/api/admin-only"])
def test_missing_or_wrong_key_is_401_problem(client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 401
    wrong = client.get(path, headers={"x-functions-key": "not-the-key"})
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"


def test_function_level_accepts_function_key_by_header_or_query(
    client: httpx.Client, devhost: Devhost
) -> None:
    assert client.get("/api/keyed", headers=devhost.function_headers).text == "function level ok"
    assert client.get("/api/keyed", params={"code": devhost.function_key}).status_code == 200


def test_function_level_accepts_master_key(client: httpx.Client, devhost: Devhost) -> None:
    assert client.get("/api/keyed", params={"code": devhost.master_key}).status_code == 200


def test_admin_level_needs_the_master_key(client: httpx.Client, devhost: Devhost) -> None:
    assert client.get("/api/admin-only", headers=devhost.function_headers).status_code == 401
    response = client.get("/api/admin-only", headers=devhost.master_headers)
    assert response.status_code == 200
    assert response.text == "admin level ok"
    assert client.get("/api/admin-only", params={"code": devhost.master_key}).status_code == 200


def test_admin_api_needs_the_master_key(client: httpx.Client, devhost: Devhost) -> None:
    assert client.get("/admin/host/status").status_code == 401
    assert client.get("/admin/host/status", headers=devhost.function_headers).status_code == 401
    assert client.post("/admin/functions/yearly", json={"input": ""}).status_code == 401
