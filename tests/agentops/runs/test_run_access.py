"""Who may open and cancel a run: its own tenant, or an admin of any tenant (the listing's rule).
Anyone else reads another tenant's run as unknown, exactly as an id that names no run.

The real SQLite store and the model simulator on loopback.
"""

from __future__ import annotations

import pytest

from agentops.auth import ADMIN_ROLE, Principal
from agentops.bootstrap import Services
from agentops.runs.errors import RunConflictError, UnknownRunError
from agentops.runs.requests import RunRequest
from agentops.runs.run_service import RunSnapshot
from agentops.store.records import Run

OWNER = Principal(id="user-1", name="user-1", tenant="contoso", roles=frozenset({"runs.write"}))
STRANGER = Principal(id="user-2", name="user-2", tenant="fabrikam", roles=frozenset({"runs.write"}))
ADMIN = Principal(id="admin-1", name="admin-1", tenant="globex", roles=frozenset({ADMIN_ROLE}))


async def _run(services: Services) -> Run:
    return await services.runs.create(OWNER, "summarizer", RunRequest(queries=["one", "two"]))


async def _view(services: Services, principal: Principal, run_id: str) -> RunSnapshot:
    return await services.runs.view(
        principal, run_id, runtime_status=None, custom_status=None, continuation=None, limit=10
    )


async def test_an_admin_of_another_tenant_reads_and_cancels_the_run(services: Services) -> None:
    run = await _run(services)
    snapshot = await _view(services, ADMIN, run.run_id)
    assert snapshot.run.tenant_id == "contoso" and len(snapshot.items) == 2

    canceled = await services.runs.cancel(ADMIN, run.run_id)
    assert canceled.run.tenant_id == "contoso" and canceled.instances == [run.run_id]
    assert (await _view(services, OWNER, run.run_id)).status == "canceled"
    with pytest.raises(RunConflictError) as again:
        await services.runs.cancel(ADMIN, run.run_id)
    assert again.value.owner_tenant == "contoso"  # for the admin's audit entry


@pytest.mark.parametrize(
    "roles",
    [frozenset({"runs.write"}), frozenset({"Admin", "administrator", "admin "}), frozenset()],
    ids=["user", "near-miss-roles", "no-roles"],
)
async def test_anyone_else_reads_another_tenants_run_as_unknown(
    services: Services, roles: frozenset[str]
) -> None:
    run = await _run(services)
    caller = Principal(id="user-2", name="user-2", tenant="fabrikam", roles=roles)
    with pytest.raises(UnknownRunError) as read:
        await _view(services, caller, run.run_id)
    with pytest.raises(UnknownRunError) as cancel:
        await services.runs.cancel(caller, run.run_id)
    for refused in (read.value, cancel.value):
        # The caller's message is the unknown id's; only the audit entry learns the owner.
        assert str(refused) == "no run with this id" and refused.owner_tenant == "contoso"
    assert (await _view(services, OWNER, run.run_id)).status == "pending"  # not canceled


@pytest.mark.parametrize("run_id", ["..", ".", "", "../x", "a/b", "%2e%2e", "a" * 65, "ab\x00"])
async def test_hostile_ids_are_unknown_to_an_admin_too(services: Services, run_id: str) -> None:
    await _run(services)
    for principal in (ADMIN, STRANGER):
        with pytest.raises(UnknownRunError) as refused:
            await _view(services, principal, run_id)
        assert refused.value.owner_tenant is None
        with pytest.raises(UnknownRunError):
            await services.runs.cancel(principal, run_id)
