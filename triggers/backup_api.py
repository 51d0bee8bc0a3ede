"""The admin routes over backups: list, read, verify, restore and start one now.

Only the `admin` role may use them: a backup holds every tenant's data. Each route identifies
the caller, refuses anyone else (403), checks ids and bodies before anything uses them, and
leaves one audit entry (`triggers.access.audited`). A restore runs as the `store_restore`
orchestration, since a large store outlasts an HTTP request, and is followed through its own
status route; everything else answers within the request.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.OrchestrationRuntimeStatus import (
    OrchestrationRuntimeStatus as Runtime,
)

from agentops.auth import ADMIN_ROLE, ForbiddenError, Principal
from agentops.backup import BackupInvalidError, BackupNotFoundError, BackupService, Manifest
from agentops.backup.periods import manual_backup_work
from agentops.backup.requests import (
    BackupPage,
    BackupPath,
    RestorePath,
    RestoreRequest,
    page_of,
)
from agentops.backup.restores import RestoreWork, restore_instance_id, restores_prefix
from agentops.bootstrap import Services
from orchestrations.maintenance import BACKUP_ORCHESTRATOR
from orchestrations.restore import RESTORE_ORCHESTRATOR
from triggers.access import Access, audited, unverified_id
from triggers.backup_responses import (
    BackupAccepted,
    BackupList,
    BackupSummary,
    BackupView,
    RestoreAccepted,
    RestoreView,
    VerifyView,
)
from triggers.edge import CALLER_ERRORS, problem_for, read_body
from triggers.http import HttpResponse, Request
from triggers.problems import json_response, problem
from triggers.schedules import start_once

logger = logging.getLogger(__name__)

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)

_UNDER_WAY = frozenset(
    {Runtime.Pending, Runtime.Running, Runtime.ContinuedAsNew, Runtime.Suspended}
)
_STOPPED = frozenset({Runtime.Failed, Runtime.Terminated, Runtime.Canceled})
_UNREADABLE_MANIFEST = "manifest.json: not a readable manifest"


class BackupsUnavailableError(RuntimeError):
    """No usable BACKUP_ENCRYPTION_KEY: an operator must set one."""


class BackupUnderWayError(RuntimeError):
    """The backup's orchestration is still writing it: no manifest yet."""


class BackupUnreadableError(RuntimeError):
    """The backup's manifest cannot be read as one."""


class RestoreUnderWayError(RuntimeError):
    """A restore of the same backup is still running."""


class UnknownRestoreError(LookupError):
    """No restore of that backup by that id."""


_BACKUP_ERRORS = (
    *CALLER_ERRORS,
    BackupNotFoundError,
    BackupsUnavailableError,
    BackupUnderWayError,
    BackupUnreadableError,
    RestoreUnderWayError,
    UnknownRestoreError,
)


def _problem(error: Exception) -> HttpResponse:
    # Ids are not echoed back: the details are fixed text.
    match error:
        case BackupNotFoundError():
            return problem(404, "Unknown backup", "no backup by that id", kind="unknown-backup")
        case UnknownRestoreError():
            return problem(
                404,
                "Unknown restore",
                "no restore of that backup by that id",
                kind="unknown-restore",
            )
        case BackupUnderWayError():
            return problem(
                409,
                "Backup under way",
                "the backup is still being written; retry once it has completed",
                kind="backup-under-way",
                headers={"Retry-After": "10"},
            )
        case RestoreUnderWayError():
            return problem(
                409,
                "Restore under way",
                "a restore of this backup is still running",
                kind="restore-under-way",
                headers={"Retry-After": "10"},
            )
        case BackupUnreadableError():
            return problem(422, "Backup unreadable", _UNREADABLE_MANIFEST, kind="backup-unreadable")
        case BackupsUnavailableError():
            return problem(
                503,
                "Backups unavailable",
                "no usable backup encryption key is configured",
                kind="backups-unavailable",
            )
    return problem_for(error)


def _operator(req: Request, services: Services, access: Access) -> Principal:
    principal = access.identify(req, services)
    if not principal.has_role(ADMIN_ROLE):
        raise ForbiddenError("backups hold every tenant's data: only the admin role may use them")
    return principal


async def _backups(services: Services) -> BackupService:
    try:
        return await services.backups()
    except ValueError:  # the key setting is missing or malformed; its message names no key
        logger.exception("backup service unavailable")
        raise BackupsUnavailableError from None


async def _named_backup(
    req: Request, services: Services, access: Access
) -> tuple[str, BackupService]:
    """The checks every route on one backup makes first: the caller is an operator, the id is
    well formed, the backup service is usable."""
    _operator(req, services, access)
    backup_id = BackupPath.model_validate(dict(req.path_params)).backup_id
    return backup_id, await _backups(services)


async def _manifest(
    backups: BackupService, client: df.DurableOrchestrationClient, backup_id: str
) -> Manifest:
    """The complete backup; a backup still being written is under way, not unknown."""
    try:
        return await backups.manifest(backup_id)
    except BackupInvalidError:  # its manifest does not parse
        raise BackupUnreadableError from None
    except BackupNotFoundError:
        if await _backup_state(client, backup_id) == "running":
            raise BackupUnderWayError from None
        raise


async def _backup_state(client: df.DurableOrchestrationClient, backup_id: str) -> str | None:
    """'running' or 'failed' for a backup orchestration without a manifest, else None."""
    status = await client.get_status(backup_id)
    if status.name != BACKUP_ORCHESTRATOR or status.runtime_status is None:
        return None
    if status.runtime_status in _UNDER_WAY:
        return "running"
    if status.runtime_status in _STOPPED:
        return "failed"
    return None  # completed, yet no manifest: not a backup (its blobs are gone)


def _backup_resource(req: Request) -> str:
    return f"backups/{unverified_id(req.path_params.get('backup_id', ''))}"


@bp.route(route="backups", methods=["GET"])
async def list_backups(req: Request, context: func.Context) -> HttpResponse:
    async def handle(services: Services, access: Access) -> HttpResponse:
        try:
            _operator(req, services, access)
            page = BackupPage.model_validate(dict(req.query_params))
            backups = await _backups(services)
            manifests = await backups.list()  # a manifest that does not parse is left out
        except _BACKUP_ERRORS as error:
            return _problem(error)
        chosen, token = page_of(manifests, page)
        access.details["records"] = len(chosen)
        next_uri = None
        if token is not None:
            next_uri = (
                f"{services.settings.base_url()}/api/backups"
                f"?limit={page.limit}&continuation={token}"
            )
        body = BackupList(
            backups=[BackupSummary.of(m) for m in chosen], continuation=token, next=next_uri
        )
        return json_response(body)

    return await audited(req, context, "backup.list", "backups", handle)


@bp.route(route="backups", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def create_backup(
    req: Request, client: df.DurableOrchestrationClient, context: func.Context
) -> HttpResponse:
    async def handle(services: Services, access: Access) -> HttpResponse:
        try:
            _operator(req, services, access)
            await _backups(services)  # refuse now, not in the orchestration, without a key
        except _BACKUP_ERRORS as error:
            return _problem(error)
        # The id is the second it was asked for: requests within one second start one backup.
        work = manual_backup_work(datetime.now(UTC))
        access.resource = f"backups/{work.backup_id}"
        try:
            started = await start_once(
                client, BACKUP_ORCHESTRATOR, work.backup_id, work.model_dump(mode="json")
            )
        except Exception:  # the durable backend refused
            logger.exception("could not start backup %s", work.backup_id)
            return problem(503, "Service unavailable", "the backup could not be started")
        access.details["started"] = started
        uri = f"{services.settings.base_url()}/api/backups/{work.backup_id}"
        body = BackupAccepted(id=work.backup_id, status_uri=uri)
        return json_response(body, status=202, headers={"Location": uri, "Retry-After": "10"})

    return await audited(req, context, "backup.create", "backups", handle)


@bp.route(route="backups/{backup_id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def get_backup(
    req: Request, client: df.DurableOrchestrationClient, context: func.Context
) -> HttpResponse:
    async def handle(services: Services, access: Access) -> HttpResponse:
        try:
            backup_id, backups = await _named_backup(req, services, access)
            try:
                view = BackupView.of(await backups.manifest(backup_id))
            except BackupInvalidError:  # its manifest does not parse
                raise BackupUnreadableError from None
            except BackupNotFoundError:
                state = await _backup_state(client, backup_id)
                if state is None:
                    raise
                view = BackupView(id=backup_id, status=state)  # type: ignore[arg-type]
        except _BACKUP_ERRORS as error:
            return _problem(error)
        access.resource = f"backups/{backup_id}"
        headers = {"Retry-After": "10"} if view.status == "running" else None
        return json_response(view, headers=headers)

    return await audited(req, context, "backup.read", _backup_resource(req), handle)


@bp.route(route="backups/{backup_id}/verify", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def verify_backup(
    req: Request, client: df.DurableOrchestrationClient, context: func.Context
) -> HttpResponse:
    async def handle(services: Services, access: Access) -> HttpResponse:
        try:
            backup_id, backups = await _named_backup(req, services, access)
            try:
                await _manifest(backups, client, backup_id)
                view = VerifyView.of(await backups.verify(backup_id))
            except BackupUnreadableError:
                # A damaged manifest is what verification is for: a result, like a bad part.
                view = VerifyView(
                    backup_id=backup_id, ok=False, counts={}, problems=[_UNREADABLE_MANIFEST]
                )
        except _BACKUP_ERRORS as error:
            return _problem(error)
        access.resource = f"backups/{backup_id}"
        access.details["ok"] = view.ok
        return json_response(view)

    return await audited(req, context, "backup.verify", _backup_resource(req), handle)


@bp.route(route="backups/{backup_id}/restore", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_restore(
    req: Request, client: df.DurableOrchestrationClient, context: func.Context
) -> HttpResponse:
    async def handle(services: Services, access: Access) -> HttpResponse:
        try:
            backup_id, backups = await _named_backup(req, services, access)
            request = await read_body(req, RestoreRequest, services)
            access.details["dry_run"] = request.dry_run
            access.details["one_tenant"] = request.tenant is not None
            await _manifest(backups, client, backup_id)
            access.resource = f"backups/{backup_id}"
            under_way = await client.get_status_by(
                runtime_status=list(_UNDER_WAY), instance_id_prefix=restores_prefix(backup_id)
            )
            if under_way:
                raise RestoreUnderWayError
        except _BACKUP_ERRORS as error:
            return _problem(error)
        work = RestoreWork(
            restore_id=uuid.uuid4().hex,
            backup_id=backup_id,
            tenant=request.tenant,
            dry_run=request.dry_run,
        )
        access.details["restore_id"] = work.restore_id
        try:
            await client.start_new(
                RESTORE_ORCHESTRATOR, work.instance_id, work.model_dump(mode="json")
            )
        except Exception:  # the durable backend refused: nothing was started
            logger.exception("could not start restore of %s", backup_id)
            return problem(503, "Service unavailable", "the restore could not be started")
        uri = f"{services.settings.base_url()}/api/backups/{backup_id}/restores/{work.restore_id}"
        body = RestoreAccepted(
            id=work.restore_id,
            restore_id=work.restore_id,
            backup_id=backup_id,
            dry_run=work.dry_run,
            tenant=work.tenant,
            status_uri=uri,
        )
        return json_response(body, status=202, headers={"Location": uri, "Retry-After": "5"})

    return await audited(req, context, "backup.restore", _backup_resource(req), handle)


@bp.route(route="backups/{backup_id}/restores/{restore_id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def get_restore(
    req: Request, client: df.DurableOrchestrationClient, context: func.Context
) -> HttpResponse:
    async def handle(services: Services, access: Access) -> HttpResponse:
        try:
            _operator(req, services, access)
            path = RestorePath.model_validate(dict(req.path_params))
            instance_id = restore_instance_id(path.backup_id, path.restore_id)
            status = await client.get_status(instance_id, show_input=True)
            if status.name != RESTORE_ORCHESTRATOR or status.runtime_status is None:
                raise UnknownRestoreError
            view = _restore_view(status)
        except _BACKUP_ERRORS as error:
            return _problem(error)
        access.resource = f"backups/{path.backup_id}/restores/{path.restore_id}"
        headers = {"Retry-After": "5"} if view.status == "running" else None
        return json_response(view, headers=headers)

    resource = f"{_backup_resource(req)}/restores"
    return await audited(req, context, "backup.read", resource, handle)


def _restore_view(status: Any) -> RestoreView:
    work = RestoreWork.model_validate(_json(status.input_))
    runtime = status.runtime_status
    counts: dict[str, int] | None = None
    problems: list[str] = []
    if runtime in _UNDER_WAY:
        state = "running"
    elif runtime == Runtime.Completed:
        state = "completed"
        counts = dict(_json(status.output)["counts"])
    else:
        state = "failed"
        custom = _json(status.custom_status)
        found = custom.get("problems") if isinstance(custom, dict) else None
        problems = [str(p) for p in found] if isinstance(found, list) else []
        if not problems:
            problems = [f"the restore stopped ({runtime.value}) before it finished"]
    return RestoreView(
        id=work.restore_id,
        backup_id=work.backup_id,
        status=state,  # type: ignore[arg-type]
        dry_run=work.dry_run,
        tenant=work.tenant,
        counts=counts,
        problems=problems,
        created_at=status.created_time,
        last_updated_at=status.last_updated_time,
    )


def _json(value: Any) -> Any:
    """A status field: JSON text where the backend hands it over as text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
