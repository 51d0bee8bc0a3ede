"""Who is calling: the principal, its tenant and roles.

In Azure, App Service Authentication (Easy Auth) validates the caller's token and passes the
claims in `X-MS-CLIENT-PRINCIPAL` (base64 JSON); the platform strips that header from outside
requests, so it can be trusted -- but only where Easy Auth is on (`WEBSITE_AUTH_ENABLED`). There,
a request without a readable principal, or with a principal that names no tenant, is refused: it
is never mapped to a default. Anywhere else the header could be forged, so it is refused, and a
caller holding the function key is the local operator.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

TENANT_CLAIMS = ("http://schemas.microsoft.com/identity/claims/tenantid", "tid")
OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
ROLE_CLAIMS = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
DEFAULT_TENANT = "local"
ADMIN_ROLE = "admin"
# Far above any real token's claims; a bound so a forged header cannot cost much to read.
MAX_PRINCIPAL_BYTES = 16 * 1024


class AuthenticationError(ValueError):
    """No principal, or one that cannot be read: 401."""


class ForbiddenError(PermissionError):
    """A readable principal that this app cannot serve (no tenant): 403."""


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    name: str
    tenant: str
    roles: frozenset[str]

    def has_role(self, role: str) -> bool:
        return role in self.roles


LOCAL_PRINCIPAL = Principal(
    id="local", name="local", tenant=DEFAULT_TENANT, roles=frozenset({"runs.write", ADMIN_ROLE})
)


class _Claim(BaseModel):
    model_config = ConfigDict(extra="ignore")

    typ: str
    val: str


class _ClientPrincipal(BaseModel):
    """The document App Service Authentication puts in X-MS-CLIENT-PRINCIPAL."""

    model_config = ConfigDict(extra="ignore")

    auth_typ: str | None = None
    name_typ: str | None = None
    role_typ: str | None = None
    claims: list[_Claim] = Field(default_factory=list)

    def first(self, types: tuple[str, ...]) -> str | None:
        for claim in self.claims:
            if claim.typ in types and claim.val.strip():
                return claim.val.strip()
        return None


def principal_from_headers(headers: Mapping[str, str], *, trusted: bool) -> Principal:
    """The caller; `trusted` says whether App Service Authentication vouches for the header."""
    encoded = headers.get("x-ms-client-principal")
    if not trusted:
        if encoded:
            raise AuthenticationError(
                "x-ms-client-principal is accepted only behind App Service Authentication "
                "(WEBSITE_AUTH_ENABLED)"
            )
        return LOCAL_PRINCIPAL
    if not encoded:
        raise AuthenticationError("sign in: App Service Authentication gave no principal")
    document = _decode(encoded)
    tenant = document.first(TENANT_CLAIMS)
    if tenant is None:
        raise ForbiddenError("the principal names no tenant (tid claim)")
    object_id = document.first(OBJECT_ID_CLAIMS) or (headers.get("x-ms-client-principal-id") or "")
    if not object_id.strip():
        raise AuthenticationError("the principal names no user (oid claim)")
    role_types = (*ROLE_CLAIMS, document.role_typ) if document.role_typ else ROLE_CLAIMS
    roles = frozenset(c.val for c in document.claims if c.typ in role_types and c.val)
    name = document.first((document.name_typ,) if document.name_typ else ("name",)) or object_id
    return Principal(id=object_id.strip(), name=name, tenant=tenant, roles=roles)


def _decode(encoded: str) -> _ClientPrincipal:
    if len(encoded) > MAX_PRINCIPAL_BYTES:
        raise AuthenticationError("x-ms-client-principal is too large")
    try:
        return _ClientPrincipal.model_validate(json.loads(base64.b64decode(encoded, validate=True)))
    except (binascii.Error, ValueError, RecursionError) as error:
        # ValidationError is a ValueError: claims not a list, a claim without typ/val, not an
        # object at all. None of it says who is calling.
        reason = (
            "not a principal document" if isinstance(error, ValidationError) else "not base64 JSON"
        )
        raise AuthenticationError(f"x-ms-client-principal is {reason}") from None
