"""An aggregate over a run's items, reused a while for a run under way (run_service's rule)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable


class ReusedAggregates[T]:
    """Per run id, the last value read and until when it may be reused.

    Reused for at least `reuse_s`, and `factor` times as long as reading it took, so that a
    run polled often costs a bounded share of the instance's time (see TOTALS_REUSE_S).
    """

    def __init__(
        self, clock: Callable[[], float], *, reuse_s: float, factor: float, max_kept: int
    ) -> None:
        self._clock = clock
        self._reuse_s = reuse_s
        self._factor = factor
        self._max_kept = max_kept
        self._kept: dict[str, tuple[float, T]] = {}

    async def get(self, run_id: str, read: Callable[[], Awaitable[T]], *, finished: bool) -> T:
        """A finished run's aggregate is read afresh (and forgotten): it no longer changes,
        and a reader must see its last items."""
        if finished:
            self._kept.pop(run_id, None)
            return await read()
        started = self._clock()
        kept = self._kept.get(run_id)
        if kept is not None and started < kept[0]:
            return kept[1]
        value = await read()
        now = self._clock()
        if len(self._kept) >= self._max_kept:
            self._kept = {key: kept for key, kept in self._kept.items() if now < kept[0]}
        self._kept[run_id] = (now + max(self._reuse_s, self._factor * (now - started)), value)
        return value
