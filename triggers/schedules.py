"""Timer triggers of scheduled maintenance. A timer does no work itself: it starts the
orchestration of the period it falls in, under an instance id derived from that period, and
only if no instance by that id exists in any state. A timer fired twice, a past-due firing after
a restart and two instances firing at once therefore do the work once.

Schedules are NCRONTAB app settings resolved by the host (`%BACKUP_SCHEDULE%`,
`%COST_REPORT_SCHEDULE%`, `%COMPLIANCE_REPORT_SCHEDULE%`): each setting must exist where the app
runs (local.settings.json locally, the deployment's app settings in Azure); the defaults are the
fields of `Settings`. The daily reports cover the UTC day before the one the timer fires in.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from agentops.backup import backup_work_for_hour
from agentops.reports.periods import ReportKind, report_work_for_previous_day
from orchestrations.maintenance import BACKUP_ORCHESTRATOR
from orchestrations.reports import REPORT_ORCHESTRATOR

logger = logging.getLogger(__name__)

bp = df.Blueprint()


@bp.timer_trigger(arg_name="timer", schedule="%BACKUP_SCHEDULE%", use_monitor=True)
@bp.durable_client_input(client_name="client")
async def hourly_backup(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    work = backup_work_for_hour(datetime.now(UTC))
    await start_once(client, BACKUP_ORCHESTRATOR, work.backup_id, work.model_dump(mode="json"))


@bp.timer_trigger(arg_name="timer", schedule="%COST_REPORT_SCHEDULE%", use_monitor=True)
@bp.durable_client_input(client_name="client")
async def cost_report(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    await _start_report(client, "cost")


@bp.timer_trigger(arg_name="timer", schedule="%COMPLIANCE_REPORT_SCHEDULE%", use_monitor=True)
@bp.durable_client_input(client_name="client")
async def compliance_report(
    timer: func.TimerRequest, client: df.DurableOrchestrationClient
) -> None:
    await _start_report(client, "compliance")


async def _start_report(client: df.DurableOrchestrationClient, kind: ReportKind) -> None:
    work = report_work_for_previous_day(kind, datetime.now(UTC))
    await start_once(client, REPORT_ORCHESTRATOR, work.report_id, work.model_dump(mode="json"))


async def start_once(
    client: df.DurableOrchestrationClient, orchestrator: str, instance_id: str, payload: Any
) -> bool:
    """Start `orchestrator` as `instance_id` unless that instance exists; True if started.

    Checked first because starting over a finished instance would run it again. Two timers
    that both find none race to start it: the loser's start fails, and the instance existing
    then means the period's work is in hand.
    """
    if await _exists(client, instance_id):
        logger.info("%s already exists; nothing to start", instance_id)
        return False
    try:
        await client.start_new(orchestrator, instance_id, payload)
    except Exception:  # the durable backend names no type for "exists"
        if await _exists(client, instance_id):
            logger.info("%s was started by another firing", instance_id)
            return False
        raise
    logger.info("started %s", instance_id)
    return True


async def _exists(client: df.DurableOrchestrationClient, instance_id: str) -> bool:
    status = await client.get_status(instance_id)
    return status is not None and status.runtime_status is not None
