"""Who is calling: the principal, its tenant and roles.

In Azure, App Service Authentication (Easy Auth) validates the caller's token and passes the
claims in `X-MS-CLIENT-PRINCIPAL` (base64 JSON); the platform strips that header from outside
requests, so it can be trusted -- but only where Easy Auth is on (`WEBSITE_AUTH_ENABLED`). Anywhere
else the header could be forged, so it is refused. Without it (a function key only, or devhost),
the caller is the local principal of the default tenant.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass

TENANT_CLAIMS = ("http://schemas.microsoft.com/identity/claims/tenantid", "tid")
OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
ROLE_CLAIMS = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
DEFAULT_TENANT = "local"


class AuthenticationError(ValueError):
    """The principal header is present but unreadable."""


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    name: str
    tenant: str
    roles: frozenset[str]

    def has_role(self, role: str) -> bool:
        return role in self.roles


LOCAL_PRINCIPAL = Principal(
    id="local", name="local", tenant=DEFAULT_TENANT, roles=frozenset({"runs.write", "admin"})
)


def principal_from_headers(headers: Mapping[str, str], *, trusted: bool) -> Principal:
    """The caller; `trusted` says whether the platform vouches for the principal header."""
    encoded = headers.get("x-ms-client-principal")
    if not encoded:
        return LOCAL_PRINCIPAL
    if not trusted:
        raise AuthenticationError(
            "x-ms-client-principal is accepted only behind App Service Authentication "
            "(WEBSITE_AUTH_ENABLED)"
        )
    try:
        document = json.loads(base64.b64decode(encoded, validate=True))
        claims = document.get("claims", [])
        role_type = document.get("role_typ")
        name_type = document.get("name_typ")
    except (binascii.Error, ValueError, AttributeError) as error:
        raise AuthenticationError("x-ms-client-principal is not base64 JSON") from error

    def first(types: tuple[str, ...]) -> str | None:
        for claim in claims:
            if claim.get("typ") in types:
                return str(claim.get("val"))
        return None

    role_types = (*ROLE_CLAIMS, role_type) if role_type else ROLE_CLAIMS
    roles = frozenset(str(c.get("val")) for c in claims if c.get("typ") in role_types)
    object_id = first(OBJECT_ID_CLAIMS) or headers.get("x-ms-client-principal-id") or "unknown"
    name = first((name_type,) if name_type else ("name",)) or object_id
    return Principal(
        id=object_id,
        name=name,
        tenant=first(TENANT_CLAIMS) or DEFAULT_TENANT,
        roles=roles,
    )
