"""The activity of the report orchestrations: a thin wrapper over the report service."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from agentops.bootstrap import get_services
from agentops.reports.periods import ReportWork

bp = df.Blueprint()


@bp.activity_trigger(input_name="work")
async def build_report(work: dict[str, Any]) -> dict[str, Any]:
    """Build and store one day's report. Idempotent: a rerun after the record was stored
    returns it; a rerun before rewrites the blobs and then stores the record."""
    job = ReportWork.model_validate(work)
    record = await (await get_services()).reports().build(job)
    return {"report_id": record.id, "kind": record.kind, "headline": record.headline}
