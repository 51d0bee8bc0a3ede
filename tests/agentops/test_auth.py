import base64
import json

import pytest

from agentops.auth import LOCAL_PRINCIPAL, AuthenticationError, principal_from_headers


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
