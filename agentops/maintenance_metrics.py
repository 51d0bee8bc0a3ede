"""The maintenance metric: backups, restores, prunes and reports finished, by kind and outcome.

``completed`` when the work's result is stored for the first time (a rerun that finds it already
stored counts nothing); ``failed`` when a step raised (Durable may run it again, so this counts
failed attempts); for a restore, ``invalid`` or ``missing`` when the backup could not be used.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

from agentops.instruments import MAINTENANCE
from agentops.metering import instrument

type MaintenanceKind = Literal["backup", "restore", "prune", "report_cost", "report_compliance"]


def maintenance_finished(kind: MaintenanceKind, outcome: str) -> None:
    instrument(MAINTENANCE).record(1, {"kind": kind, "outcome": outcome})


def counts_failures[**P, R](
    kind: MaintenanceKind, outcomes: Mapping[type[Exception], str] | None = None
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Count a call of the decorated step that raises: as `outcomes` names its error's type,
    else as failed; the error goes through."""

    def decorate(step: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(step)
        async def counted(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await step(*args, **kwargs)
            except Exception as error:
                named = (outcomes or {}).items()
                outcome = next((o for t, o in named if isinstance(error, t)), "failed")
                maintenance_finished(kind, outcome)
                raise

        return counted

    return decorate
