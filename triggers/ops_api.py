"""The operations route: rate limiter load per deployment and budgets used today.

It names every budgeted tenant and their spending, so only the admin role may read it; each call
is audited (`ops.limits`). Limiter figures are the answering worker process's own
(`triggers.ops_responses`); budget totals are read from the store.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

import azure.durable_functions as df
import azure.functions as func

from agentops.auth import ADMIN_ROLE, ForbiddenError
from agentops.bootstrap import Services
from agentops.model.budgets import next_utc_midnight
from triggers.access import Access, audited
from triggers.edge import CALLER_ERRORS, problem_for
from triggers.http import HttpResponse, Request
from triggers.ops_responses import BudgetUse, DeploymentLoad, OpsLimits
from triggers.problems import json_response

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.route(route="ops/limits", methods=["GET"])
async def ops_limits(req: Request, context: func.Context) -> HttpResponse:
    async def handle(services: Services, access: Access) -> HttpResponse:
        try:
            principal = access.identify(req, services)
            if not principal.has_role(ADMIN_ROLE):
                raise ForbiddenError("limits and budgets span tenants: reading them needs admin")
        except CALLER_ERRORS as error:
            return problem_for(error)
        return json_response(await limits_view(services))

    return await audited(req, context, "ops.limits", "ops/limits", handle)


async def limits_view(services: Services) -> OpsLimits:
    loads = {load.deployment: load for load in services.limiter.snapshot()}
    breakers = {name: state.value for name, state in services.breakers.states().items()}
    day, spent = await services.budgets.spent_today()
    return OpsLimits(
        worker_processes=services.settings.functions_worker_process_count,
        deployments=[
            DeploymentLoad.of(name, loads.get(name), breakers.get(name))
            for name in sorted(loads.keys() | breakers.keys())
        ],
        day=day,
        resets_at=next_utc_midnight(datetime.combine(day, time(), tzinfo=UTC)),
        budgets=[BudgetUse.of(spend) for spend in spent],
    )
