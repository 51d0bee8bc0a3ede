"""Every call of a data route leaves one audit entry: who, which tenant, what, on which resource,
the outcome, and where from (client IP, request and session ids).

A route runs its work through `audited`, which records the entry once the answer is known,
refusals and faults included. The entry is queued (`AuditWriter.submit`), not written, so a
request pays for the queueing only. Nothing the caller wrote reaches an entry: no query, body or
key; and an id from the request is recorded as it is only once the route has found the run,
thread or agent it names (before that, as a short hash: ids are not echoed, nor recorded).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import re
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
from opentelemetry import trace

from agentops.audit import UNAUTHENTICATED_TENANT, AuditEvent
from agentops.auth import ForbiddenError, Principal, principal_from_headers
from agentops.bootstrap import Services, get_services
from agentops.store.checks import check_key
from agentops.tracing import close_body, traced_request
from triggers.edge import problem_for
from triggers.http import HttpResponse, Request, StreamingResponse
from triggers.problems import problem_kind
from triggers.request_metrics import record_request

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

# Headers Azure's front ends set: App Service's puts the client first in X-Forwarded-For (as
# "ip:port"), Front Door sets X-Azure-ClientIP. Neither is checked against a proxy list here:
# the entry records what the platform's front end reported.
_CLIENT_IP_HEADERS = ("x-forwarded-for", "x-azure-clientip", "client-ip")
_REQUEST_ID_HEADER = "x-ms-request-id"
_SESSION_ID_HEADER = "x-session-id"
_ID_SHAPE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def client_ip(headers: Mapping[str, str]) -> str | None:
    """The client's address as the front end reported it; None when no header gives one that
    parses as an IP address (so nothing else ever lands in the field)."""
    for name in _CLIENT_IP_HEADERS:
        value = headers.get(name)
        if value:
            address = _address(value.split(",")[0].strip())
            if address is not None:
                return address
    return None


def _address(hop: str) -> str | None:
    if hop.startswith("["):  # [v6]:port
        hop = hop[1 : hop.find("]")] if "]" in hop else hop
    elif hop.count(":") == 1:  # v4:port
        hop = hop.split(":")[0]
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return None


def unverified_id(value: str) -> str:
    """An id from the request, before the route has found what it names: a short hash. A secret
    pasted into a URL is not copied into the trail, and an investigator who knows an id can
    still match its entries (`~` + the first 16 hex digits of its SHA-256)."""
    return "~" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _header_id(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value if value and _ID_SHAPE.match(value) else None


@dataclass(slots=True)
class Access:
    """One request's audit record while the route works; the route fills in what it learns."""

    action: str
    resource: str
    client_ip: str | None
    request_id: str
    invocation_id: str | None
    session_id: str | None
    principal: Principal | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def begin(
        cls, req: Request, context: func.Context | None, action: str, resource: str
    ) -> Access:
        invocation_id = getattr(context, "invocation_id", None) if context else None
        request_id = _header_id(req.headers, _REQUEST_ID_HEADER) or invocation_id
        return cls(
            action=action,
            resource=resource,
            client_ip=client_ip(req.headers),
            request_id=request_id or uuid.uuid4().hex,
            invocation_id=invocation_id,
            session_id=_header_id(req.headers, _SESSION_ID_HEADER),
        )

    def identify(self, req: Request, services: Services) -> Principal:
        """The authenticated caller, counted against its request rate. The principal is kept
        before the rate check, so a 429 is recorded in the caller's own chain."""
        principal = principal_from_headers(
            req.headers, trusted=services.settings.website_auth_enabled
        )
        if principal.tenant == UNAUTHENTICATED_TENANT:
            raise ForbiddenError("the principal's tenant id is reserved")
        try:
            check_key("tenant id", principal.tenant)
        except ValueError:
            raise ForbiddenError("the principal's tenant id is not usable") from None
        self.principal = principal
        services.request_limiter.check(principal)
        return principal

    def refuse(self, error: Exception) -> HttpResponse:
        """The problem answer to a caller error. An id of another tenant's run or thread reads
        as unknown to the caller; the entry records whose it is (`resource_tenant`)."""
        owner = getattr(error, "owner_tenant", None)
        if isinstance(owner, str) and owner:
            self.owned_by(owner)
        return problem_for(error)

    def owned_by(self, tenant: str) -> None:
        """The resource belongs to `tenant`: when that is not the caller's own (an admin's read
        of another tenant's run, or a refused attempt), the entry in the caller's chain names it
        (`resource_tenant`), and the compliance report reads it as a cross-tenant access."""
        if self.principal is None or tenant != self.principal.tenant:
            self.details["resource_tenant"] = tenant

    def event(self, response: HttpResponse | None) -> AuditEvent:
        status = 500 if response is None else response.status_code
        details: dict[str, Any] = {
            "status": status,
            "client_ip": self.client_ip,
            "request_id": self.request_id,
            "invocation_id": self.invocation_id,
            "session_id": self.session_id,
            **self.details,
        }
        kind = problem_kind(response)
        if kind:
            details["kind"] = kind
        principal = self.principal
        return AuditEvent(
            # Before the caller is known, the entry goes to the one fixed chain: never to a
            # tenant named by a principal that could not be accepted.
            tenant=principal.tenant if principal else UNAUTHENTICATED_TENANT,
            principal=principal.id if principal else "",
            action=self.action,
            resource=self.resource,
            outcome="allowed" if status < 400 else "refused" if status < 500 else "failed",
            details=details,
        )


# The request's server span, around the audit entry too; services (and telemetry) first.
@traced_request(tracer, before=get_services)
async def audited(
    req: Request,
    context: func.Context | None,
    action: str,
    resource: str,
    handle: Callable[[Services, Access], Awaitable[HttpResponse]],
) -> HttpResponse:
    """Run `handle` and queue exactly one audit entry for the call, whatever its outcome; the
    request is counted and timed too (`triggers.request_metrics`), a streamed answer when its
    last chunk is sent."""
    services = await get_services()
    access = Access.begin(req, context, action, resource)
    started = time.perf_counter()
    try:
        response = await handle(services, access)
    except Exception:
        await services.audit.submit(access.event(None))  # the host answers 500
        record_request(req, None, started, services.agents)
        raise
    if isinstance(response, StreamingResponse):
        response.body_iterator = _recorded_at_end(
            response.body_iterator, services, access, req, response, started
        )
        return response
    await services.audit.submit(access.event(response))
    record_request(req, response, started, services.agents)
    return response


async def _recorded_at_end(
    body: AsyncIterable[str | bytes | memoryview],
    services: Services,
    access: Access,
    req: Request,
    response: HttpResponse,
    started: float,
) -> AsyncIterator[str | bytes | memoryview]:
    """A streamed answer's body, whose audit entry and request metrics are recorded when it
    ends: its duration is the whole answer's, and a caller that left is noted (`left`)."""
    ended = False
    try:
        async for chunk in body:
            yield chunk
        ended = True
    finally:
        if not ended:
            access.details["left"] = True
        record_request(req, response, started, services.agents)
        try:
            await close_body(body)  # the answer's own clean-up (the model call) comes first
        finally:
            # Shielded: the caller leaving cancels this task, and the entry must still be queued.
            await asyncio.shield(services.audit.submit(access.event(response)))
