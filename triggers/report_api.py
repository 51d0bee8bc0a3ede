"""The routes over cost and compliance reports: list them by kind, read one as JSON or HTML.

Reports span tenants, so only the admin role may read them. Each call is audited
(`report.list`, `report.read`), with the number of reports handed back in `records`.
"""

from __future__ import annotations

import logging

import azure.durable_functions as df
import azure.functions as func

from agentops.auth import ADMIN_ROLE, ForbiddenError, Principal
from agentops.blobs import BlobNotFoundError
from agentops.bootstrap import Services
from agentops.reports.compliance import ComplianceReport
from agentops.reports.cost_models import CostReport
from agentops.reports.requests import ReportListQuery, ReportPath, ReportQuery
from triggers.access import Access, audited, unverified_id
from triggers.edge import CALLER_ERRORS, problem_for
from triggers.http import HttpResponse, Request
from triggers.problems import json_response, problem
from triggers.report_responses import ReportList, ReportSummary, ReportView

logger = logging.getLogger(__name__)

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)

# The page is self-contained: its own styles and charts as data URIs, no script, nothing fetched.
_HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


def _admin(principal: Principal) -> None:
    if not principal.has_role(ADMIN_ROLE):
        raise ForbiddenError("reports span tenants: reading them needs the admin role")


@bp.route(route="reports", methods=["GET"])
async def list_reports(req: Request, context: func.Context) -> HttpResponse:
    async def handle(services: Services, access: Access) -> HttpResponse:
        try:
            _admin(access.identify(req, services))
            query = ReportListQuery.model_validate(dict(req.query_params))
        except CALLER_ERRORS as error:
            return problem_for(error)
        page = await services.reports().list(
            query.kind, limit=query.limit, after=query.continuation
        )
        access.details["records"] = len(page.items)
        base = services.settings.base_url()
        next_uri = None
        if page.continuation is not None:
            kind = f"&kind={query.kind}" if query.kind else ""
            next_uri = (
                f"{base}/api/reports?limit={query.limit}{kind}&continuation={page.continuation}"
            )
        body = ReportList(
            reports=[ReportSummary.of(record, base) for record in page.items],
            continuation=page.continuation,
            next_uri=next_uri,
        )
        return json_response(body)

    return await audited(req, context, "report.list", "reports", handle)


@bp.route(route="reports/{report_id}", methods=["GET"])
async def get_report(req: Request, context: func.Context) -> HttpResponse:
    async def handle(services: Services, access: Access) -> HttpResponse:
        try:
            _admin(access.identify(req, services))
            report_id = ReportPath.model_validate(dict(req.path_params)).report_id
            query = ReportQuery.model_validate(dict(req.query_params))
        except CALLER_ERRORS as error:
            return problem_for(error)
        reports = services.reports()
        record = await reports.get(report_id)
        if record is None:
            return problem(404, "Unknown report", "no such report", kind="unknown-report")
        access.resource = f"reports/{record.id}"
        try:
            content = await reports.content(record, query.format)
        except BlobNotFoundError:
            logger.error("report %s has a record but no %s blob", record.id, query.format)
            return problem(
                404,
                "Unknown report",
                "the report's stored content is missing",
                kind="unknown-report",
            )
        access.details["records"] = 1
        if query.format == "html":
            return HttpResponse(content, media_type="text/html", headers=_HTML_HEADERS)
        model = CostReport if record.kind == "cost" else ComplianceReport
        summary = ReportSummary.of(record, services.settings.base_url())
        return json_response(ReportView(summary=summary, report=model.model_validate_json(content)))

    resource = f"reports/{unverified_id(req.path_params.get('report_id', ''))}"
    return await audited(req, context, "report.read", resource, handle)
