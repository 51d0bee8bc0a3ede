"""Health probes for load balancers and orchestrators: anonymous, read-only, cheap.

``GET /api/health/live``: the worker answers (no I/O). ``GET /api/health/ready``: the store,
blob storage, secrets and the model endpoint answered within a short timeout (200), or not
(503 naming each failed check), with the circuit breakers' states (`agentops.health`).

They take no body and no parameter, touch no caller's data and so leave no audit entry, and
name no secret: outcomes are fixed words or exception type names. An answer is reused for
HEALTH_CACHE_S, so probing every few seconds, or a flood of probes, costs one round of checks.
"""

from __future__ import annotations

from typing import Literal

import azure.durable_functions as df
import azure.functions as func

from agentops.bootstrap import get_services
from agentops.health import ReadinessProbe
from agentops.settings import get_settings
from triggers.http import HttpResponse, Request
from triggers.problems import json_response
from triggers.responses import Response

bp = df.Blueprint(http_auth_level=func.AuthLevel.ANONYMOUS)

# A probe's answer is about this instance, now: no cache between it and the prober.
_NO_STORE = {"Cache-Control": "no-store"}


class Liveness(Response):
    status: Literal["alive"]


class Readiness(Response):
    status: Literal["ready", "not ready"]
    failed: list[str]  # the names of the failed checks, [] when ready
    checks: dict[str, str]  # check -> "ok", or why not ("unreachable", "timed out", "HTTP 503")
    breakers: dict[str, str]  # model deployment -> closed | open | half_open


HEALTH_MODELS: tuple[type[Response], ...] = (Liveness, Readiness)

_probe: ReadinessProbe | None = None


def _readiness_probe() -> ReadinessProbe:
    global _probe
    if _probe is None:
        settings = get_settings()
        _probe = ReadinessProbe(
            get_services,
            timeout_s=settings.health_check_timeout_s,
            cache_s=settings.health_cache_s,
        )
    return _probe


@bp.route(route="health/live", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health_live(req: Request) -> HttpResponse:
    return json_response(Liveness(status="alive"), headers=_NO_STORE)


@bp.route(route="health/ready", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health_ready(req: Request) -> HttpResponse:
    report = await _readiness_probe().check()
    body = Readiness(
        status="ready" if report.ready else "not ready",
        failed=report.failed,
        checks=dict(report.checks),
        breakers=dict(report.breakers),
    )
    return json_response(body, status=200 if report.ready else 503, headers=_NO_STORE)
