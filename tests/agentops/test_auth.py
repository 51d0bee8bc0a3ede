import base64
import json

import pytest

from agentops.auth import (
    LOCAL_PRINCIPAL,
    AuthenticationError,
    ForbiddenError,
    principal_from_headers,
)


def _header(document: dict) -> dict[str, str]:
    return {"x-ms-client-principal": base64.b64encode(json.dumps(document).encode()).decode()}


def test_easy_auth_claims_give_tenant_id_and_roles() -> None:
    claims = [
        {"typ": "http://schemas.microsoft.com/identity/claims/tenantid", "val": "contoso"},
        {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": "u-1"},
        {"typ": "name", "val": "Ada"},
        {"typ": "roles", "val": "admin"},
    ]
    principal = principal_from_headers(
        _header({"claims": claims, "name_typ": "name", "role_typ": "roles"}), trusted=True
    )
    assert (principal.tenant, principal.id, principal.name) == ("contoso", "u-1", "Ada")
    assert principal.has_role("admin")


def test_no_header_is_the_local_principal_and_an_untrusted_one_is_refused() -> None:
    assert principal_from_headers({}, trusted=False) is LOCAL_PRINCIPAL
    with pytest.raises(AuthenticationError, match="App Service Authentication"):
        principal_from_headers(_header({"claims": []}), trusted=False)
    with pytest.raises(AuthenticationError, match="base64"):
        principal_from_headers({"x-ms-client-principal": "%%%"}, trusted=True)


def test_behind_easy_auth_no_principal_is_refused_not_the_local_operator() -> None:
    with pytest.raises(AuthenticationError, match="no principal"):
        principal_from_headers({}, trusted=True)


@pytest.mark.parametrize(
    "document",
    [
        {"claims": []},
        {"claims": [{"typ": "oid", "val": "u-1"}]},
        {"claims": [{"typ": "tid", "val": "   "}, {"typ": "oid", "val": "u-1"}]},
    ],
    ids=["no claims", "no tenant claim", "blank tenant"],
)
def test_a_principal_without_a_tenant_is_forbidden_never_a_default_tenant(document: dict) -> None:
    with pytest.raises(ForbiddenError, match="tenant"):
        principal_from_headers(_header(document), trusted=True)


@pytest.mark.parametrize(
    "encoded",
    [
        base64.b64encode(b'{"claims": "tid=contoso"}').decode(),  # claims not a list
        base64.b64encode(b'["tid", "contoso"]').decode(),  # not an object
        base64.b64encode(b'"contoso"').decode(),
        base64.b64encode(b'{"claims": [{"typ": "tid"}]}').decode(),  # a claim without a value
        base64.b64encode(b'{"claims": [1, 2]}').decode(),
        base64.b64encode(b"[" * 100_000).decode()[:16_000],
        base64.b64encode(b"\xff\xfe").decode(),
        "A" * 20_000,
    ],
)
def test_malformed_principals_are_authentication_errors(encoded: str) -> None:
    with pytest.raises(AuthenticationError):
        principal_from_headers({"x-ms-client-principal": encoded}, trusted=True)


def test_a_principal_without_a_user_is_refused() -> None:
    with pytest.raises(AuthenticationError, match="user"):
        principal_from_headers(
            _header({"claims": [{"typ": "tid", "val": "contoso"}]}), trusted=True
        )
