"""A run's view while it is under way reuses its totals for a moment; a finished run's are exact.

The real SQLite store and the model simulator on loopback; the service's clock is stepped by hand.
"""

from __future__ import annotations

from agentops.auth import LOCAL_PRINCIPAL
from agentops.bootstrap import Services
from agentops.runs.contracts import BatchWork, FinalizeWork
from agentops.runs.requests import RunRequest
from agentops.runs.run_service import TOTALS_REUSE_FACTOR, TOTALS_REUSE_S, RunSnapshot


async def _view(services: Services, run_id: str) -> RunSnapshot:
    return await services.runs.view(
        LOCAL_PRINCIPAL,
        run_id,
        runtime_status="Running",
        custom_status=None,
        continuation=None,
        limit=1,
    )


async def test_totals_of_a_run_under_way_are_reused_briefly(services: Services) -> None:
    now = [100.0]
    services.runs._clock = lambda: now[0]  # type: ignore[attr-defined]
    run = await services.runs.create(
        LOCAL_PRINCIPAL, "summarizer", RunRequest(queries=["one text", "two text"])
    )
    first = await _view(services, run.run_id)
    assert (first.totals.counts.pending, first.totals.counts.completed) == (2, 0)

    work = BatchWork(run_id=run.run_id, tenant="local", agent="summarizer", indexes=[0])
    assert (await services.batches.run(work)).completed == 1
    now[0] += TOTALS_REUSE_S / 2
    assert (await _view(services, run.run_id)).totals == first.totals  # reused
    now[0] += TOTALS_REUSE_S / 2
    fresh = await _view(services, run.run_id)
    assert (fresh.totals.counts.pending, fresh.totals.counts.completed) == (1, 1)
    assert fresh.totals.usage.total_tokens > 0

    # Finished: exact at once, whatever was read a moment ago.
    await services.batches.run(work.model_copy(update={"indexes": [1]}))
    await services.batches.finalize(FinalizeWork(run_id=run.run_id, status="completed"))
    done = await _view(services, run.run_id)
    assert done.status == "completed"
    assert (done.totals.counts.pending, done.totals.counts.completed) == (0, 2)


async def test_totals_that_took_long_to_read_are_reused_longer(services: Services) -> None:
    now = [100.0]

    def clock() -> float:  # every reading of the clock is 0.1 s later: the read took 0.1 s
        now[0] += 0.1
        return now[0]

    services.runs._clock = clock  # type: ignore[attr-defined]
    run = await services.runs.create(LOCAL_PRINCIPAL, "summarizer", RunRequest(queries=["one"]))
    first = await _view(services, run.run_id)
    work = BatchWork(run_id=run.run_id, tenant="local", agent="summarizer", indexes=[0])
    assert (await services.batches.run(work)).completed == 1
    now[0] += TOTALS_REUSE_FACTOR * 0.1 - 0.5  # past TOTALS_REUSE_S, within 50 x 0.1 s
    assert (await _view(services, run.run_id)).totals == first.totals
    now[0] += 1.0
    assert (await _view(services, run.run_id)).totals.counts.completed == 1
