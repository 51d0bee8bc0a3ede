"""The one way to a model: cache, budget, rate limiter, circuit breaker, then the call.

The gateway is built with its invoker (the agent runner) and is the one object callers hold.
``ModelGateway.call`` runs, per item::

    cache lookup -> budget check -> breaker look -> rate limiter -> breaker admit -> invoke
    (-> one short retry inside the activity, per the retry policy) -> limiter corrected by real
    usage -> usage and cost recorded -> cache store -> answer with its cost

It is also the one place that prices: an answer carries its ``cost`` (and on a cache hit its
``saved_cost``), a failure its ``cost``, so no caller prices anything. And it records the model
path's metrics (``agentops.instruments``): each invoke in ``agent.llm.calls.total`` with its
outcome (``ok``, ``throttled``, ``transient``, ``permanent``, ``cancelled``, ``error``), the tokens
and the cost every invoke spent, answered or not, in ``agent.tokens.used`` and ``agentops.cost``,
and the cache's lookups and saved cost. The breaker, the limiter and the budgets record their own
(state changes, waits and refusals happen inside them, also when no call is passing).

The breaker is looked at before queueing in the limiter so that an open circuit fails at once
instead of after a wait, and admits (taking a half-open probe slot) only after the wait, so a
probe is not held by a request that is still queued. A call is billed once: usage is recorded for
an answer, and for a failed call that spent tokens first (a tool loop that failed in a later
round); a cached answer costs nothing. An item that finds its own cache entry (its answer was
stored, its outcome lost in a crash) gets that answer with its usage and cost: its bill, not a hit.

``ModelGateway.stream`` is the same path for an answer streamed as it is written (cache ->
budget -> breaker -> limiter -> streamed invoke), yielding the pieces and then the priced answer.
A cache hit comes as one text delta. There is no inline retry: once text has reached the caller,
another call would repeat it. A stream stopped early (the client left: the consumer closes the
generator or its task is cancelled) is billed for what it generated, as the invoker counted it,
since an endpoint reports a streamed call's usage only at its end.

Errors for the caller: ``PermanentModelError`` (fail the item), ``TransientModelError`` and its
``CircuitOpenError`` (retryable, with ``retry_after_s``), ``BudgetExceededError`` (stop
dispatching). Every ``ModelError`` raised carries ``model_calls``: the endpoint calls it cost,
which count against the item's attempts (read it with ``model_calls_of``), and its ``usage`` and
``cost``: the tokens those calls spent, already recorded against the budgets. A half-open probe
that fails is not counted: it reopens the breaker and comes back as ``CircuitOpenError``, so an
item the breaker picked to test the endpoint waits out the cool-down like the items it refused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Protocol

from agentops.instruments import CACHE_LOOKUPS, CACHE_SAVED_COST, COST, LLM_CALLS, TOKENS_USED
from agentops.logging_safety import redact
from agentops.metering import instrument
from agentops.model.breaker import BreakerRegistry
from agentops.model.budgets import Budgets
from agentops.model.cache import ResponseCache
from agentops.model.pricing import PriceTable
from agentops.model.rate_limiter import RateLimiter, estimate_prompt_tokens
from agentops.model.retry import RetryPolicy
from agentops.model.stream_events import StreamItem, TextDelta
from agentops.model.types import (
    ModelAnswer,
    ModelError,
    ModelRequest,
    PermanentModelError,
    TransientModelError,
    Usage,
)

logger = logging.getLogger(__name__)

Invoke = Callable[[ModelRequest], Awaitable[ModelAnswer]]


class PieceStream(Protocol):
    """One streamed invoke: pieces then the answer; ``spent`` is what it used so far."""

    def __aiter__(self) -> AsyncIterator[StreamItem]: ...

    def spent(self) -> Usage: ...


StreamInvoke = Callable[[ModelRequest], PieceStream]

_calls = instrument(LLM_CALLS)
_tokens = instrument(TOKENS_USED)
_cost = instrument(COST)
_lookups = instrument(CACHE_LOOKUPS)
_saved = instrument(CACHE_SAVED_COST)


def model_calls_of(error: BaseException) -> int:
    """Endpoint calls a failed ``ModelGateway.call`` made (0 when refused before any call)."""
    return int(getattr(error, "model_calls", 0))


class ModelGateway:
    def __init__(
        self,
        invoke: Invoke,
        *,
        prices: PriceTable,
        cache: ResponseCache | None,
        budgets: Budgets | None,
        limiter: RateLimiter,
        breakers: BreakerRegistry,
        policy: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        stream_invoke: StreamInvoke | None = None,
    ) -> None:
        self._invoke = invoke
        self._stream_invoke = stream_invoke
        self._prices = prices
        self._cache = cache
        self._budgets = budgets
        self._limiter = limiter
        self._breakers = breakers
        self._policy = policy
        self._sleep = sleep

    async def prefetch(self, requests: Sequence[ModelRequest]) -> None:
        """Look up the cache entries of a batch's requests at once (one store round trip), so
        that their calls find them, or their absence, in memory."""
        cache = self._cache
        if cache is None:
            return
        keys = [key for key in map(cache.key, requests) if key is not None]
        if not keys:
            return
        try:
            await cache.prefetch(keys)
        except Exception:  # each call then looks its key up alone
            logger.warning("cache prefetch failed; looking up item by item", exc_info=True)

    async def call(
        self,
        request: ModelRequest,
        *,
        attempts_used: int = 0,
        item_key: str = "",
        defer_cache_write: bool = False,
    ) -> ModelAnswer:
        """Answer ``request``; ``attempts_used`` is the model calls the item already spent.

        ``item_key`` names the item: its cache entry carries it, so that the same item finding
        its own entry (written before a crash, its outcome never) is billed, not served a hit.
        With ``defer_cache_write`` the answer carries its ``cache_entry`` for the caller to
        write with the item's outcome (one transaction where the store allows it).
        """
        if attempts_used < 0:
            raise ValueError("attempts_used must not be negative")
        if attempts_used >= self._policy.max_attempts:
            raise ValueError("the item has no attempts left")
        cache = self._cache
        key = cache.key(request) if cache is not None else None
        if key is not None:
            hit = await self._lookup(request, key, item_key)
            if hit is not None:
                return hit

        prompt_estimate = estimate_prompt_tokens(request)
        if self._budgets is not None:
            estimate = prompt_estimate + request.max_output_tokens
            await self._budgets.check(request.tenant, request.agent, estimate)

        breaker = self._breakers.get(request.deployment)
        calls = inline = 0
        spent = Usage()
        while True:
            try:
                breaker.check()
                reservation = await self._limiter.acquire(request, prompt_estimate)
                try:
                    probe = breaker.admit()
                except BaseException:
                    reservation.cancel()
                    raise
                calls += 1
                try:
                    answer = await self._invoke_once(request)
                except TransientModelError as error:
                    reservation.settle(_spent(error))
                    spent += await self._bill_failure(request, error)
                    if error.status == 429:
                        # Throttling says the endpoint is busy, not broken: its retry-after
                        # paces the item, and the limiter paces the rest.
                        breaker.on_neutral()
                        raise
                    breaker.on_failure()
                    if not probe:
                        raise
                    # The breaker chose this item to test the endpoint: the item waits out
                    # the cool-down like the ones it refused, rather than lose an attempt to
                    # every probe of a long outage.
                    calls -= 1
                    raise breaker.reopened(error.reason) from error
                except ModelError as error:
                    reservation.settle(_spent(error))
                    spent += await self._bill_failure(request, error)
                    breaker.on_neutral()
                    raise
                except BaseException:
                    reservation.settle(None)
                    breaker.on_neutral()
                    raise
                reservation.settle(answer.usage)
                breaker.on_success()
            except TransientModelError as error:
                used = attempts_used + calls
                wait = self._policy.inline_wait(error, used, inline, item_key)
                if wait is None:
                    error.model_calls = calls  # type: ignore[attr-defined]
                    self._account(request, error, spent)
                    raise
                inline += 1
                logger.info(
                    "transient model error on %s (%s); retrying in %.2fs",
                    request.deployment,
                    redact(error.reason),
                    wait,
                )
                await self._sleep(wait)
                continue
            except ModelError as error:
                error.model_calls = calls  # type: ignore[attr-defined]
                self._account(request, error, spent)
                raise
            break

        # Billed (metered, budgets counted) before the entry exists: an entry implies a bill.
        cost = await self._bill(request, answer.usage, answer.model)
        entry = None
        if key is not None:
            assert cache is not None
            try:
                if defer_cache_write:
                    entry = cache.entry(request, answer, key, item_key)
                else:
                    await cache.put(request, answer, key, item_key)
            except Exception:
                logger.warning("cache store failed; the answer stands", exc_info=True)
        return replace(
            answer, cached=False, model_calls=calls, cost=cost, saved_cost=0.0, cache_entry=entry
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        """Answer ``request`` as it is written: pieces, then the priced ``ModelAnswer``."""
        if self._stream_invoke is None:
            raise RuntimeError("this gateway was built without a streaming invoker")
        cache = self._cache
        key = cache.key(request) if cache is not None else None
        if key is not None:
            hit = await self._lookup(request, key, "")
            if hit is not None:
                yield TextDelta(hit.text)
                yield hit
                return

        prompt_estimate = estimate_prompt_tokens(request)
        if self._budgets is not None:
            estimate = prompt_estimate + request.max_output_tokens
            await self._budgets.check(request.tenant, request.agent, estimate)
        breaker = self._breakers.get(request.deployment)
        breaker.check()
        reservation = await self._limiter.acquire(request, prompt_estimate)
        try:
            breaker.admit()
        except BaseException:
            reservation.cancel()
            raise
        labels = {"agent": request.agent, "deployment": request.deployment}
        run = self._stream_invoke(request)
        answer: ModelAnswer | None = None
        try:
            async for item in run:
                if isinstance(item, ModelAnswer):
                    answer = item
                else:
                    yield item
        except ModelError as error:
            _calls.record(1, {**labels, "outcome": call_outcome(error)})
            reservation.settle(_spent(error))
            spent = await self._bill_failure(request, error)
            if isinstance(error, TransientModelError) and error.status != 429:
                breaker.on_failure()
            else:
                breaker.on_neutral()
            error.model_calls = 1  # type: ignore[attr-defined]
            self._account(request, error, spent)
            raise
        except BaseException as error:
            # Stopped early (the client left) or a bug: bill what was generated, once. The
            # store write is shielded: a cancelled request must not lose its bill.
            _calls.record(1, {**labels, "outcome": call_outcome(error)})
            spent = run.spent()
            reservation.settle(spent if spent.total_tokens else None)
            breaker.on_neutral()
            if spent.total_tokens:
                await asyncio.shield(self._bill(request, spent))
            raise
        if answer is None:
            raise RuntimeError("the streamed invoke ended without an answer")
        _calls.record(1, {**labels, "outcome": "ok"})
        reservation.settle(answer.usage)
        breaker.on_success()
        cost = await self._bill(request, answer.usage, answer.model)
        if key is not None:
            assert cache is not None
            try:
                await cache.put(request, answer, key, "")
            except Exception:
                logger.warning("cache store failed; the answer stands", exc_info=True)
        yield replace(answer, cached=False, cost=cost, saved_cost=0.0)

    async def _lookup(self, request: ModelRequest, key: str, item_key: str) -> ModelAnswer | None:
        """The cached answer with what it saved, or None; counted by outcome."""
        assert self._cache is not None
        try:
            hit = await self._cache.get(request, key, item_key)
        except Exception:  # the cache only saves work: its store failing must not fail items
            logger.warning("cache lookup failed; calling the model", exc_info=True)
            _lookups.record(1, {"agent": request.agent, "outcome": "error"})
            return None
        if hit is None:
            _lookups.record(1, {"agent": request.agent, "outcome": "miss"})
            return None
        if not hit.cached:
            # This item's own answer, produced and billed (metered, budgets counted) before a
            # crash lost its outcome: the item pays for it now, once, and nothing was saved.
            _lookups.record(1, {"agent": request.agent, "outcome": "own"})
            cost = self._prices.cost(hit.usage, request.deployment, hit.model)
            return replace(hit, cost=cost, saved_cost=0.0)
        saved = self._prices.cost(hit.saved_usage, request.deployment, hit.model)
        _lookups.record(1, {"agent": request.agent, "outcome": "hit"})
        _saved.record(saved, {"agent": request.agent})
        return replace(hit, cost=0.0, saved_cost=saved)

    async def _invoke_once(self, request: ModelRequest) -> ModelAnswer:
        """One call to the invoker, counted by its outcome."""
        labels = {"agent": request.agent, "deployment": request.deployment}
        try:
            answer = await self._invoke(request)
        except BaseException as error:
            _calls.record(1, {**labels, "outcome": call_outcome(error)})
            raise
        _calls.record(1, {**labels, "outcome": "ok"})
        return answer

    async def _bill(self, request: ModelRequest, usage: Usage, model: str | None = None) -> float:
        """Price what a call spent, meter it and count it against the budgets; return the cost.

        Metered before the budgets' store write: the tokens are spent whether or not it works.
        """
        cost = self._prices.cost(usage, request.deployment, model)
        labels = {"agent": request.agent, "deployment": request.deployment}
        _tokens.record(usage.prompt_tokens, {**labels, "token.type": "input"})
        _tokens.record(usage.completion_tokens, {**labels, "token.type": "output"})
        _cost.record(cost, {**labels, "tenant": request.tenant})
        if self._budgets is not None:
            await self._budgets.record(request.tenant, request.agent, usage, cost)
        return cost

    async def _bill_failure(self, request: ModelRequest, error: ModelError) -> Usage:
        """Bill what a failed call spent (a tool loop cut short); return it."""
        usage = error.usage
        if usage.total_tokens:
            await self._bill(request, usage)
        return usage

    def _account(self, request: ModelRequest, error: ModelError, spent: Usage) -> None:
        """The error leaves with every failed attempt's usage of this call, and its price."""
        error.usage = spent
        error.cost = self._prices.cost(spent, request.deployment) if spent.total_tokens else 0.0


def call_outcome(error: BaseException) -> str:
    """A failed invoke's ``outcome`` attribute: its class, from a short fixed list."""
    if isinstance(error, TransientModelError):
        return "throttled" if error.status == 429 else "transient"
    if isinstance(error, PermanentModelError):
        return "permanent"
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    return "error"


def _spent(error: ModelError) -> Usage | None:
    return error.usage if error.usage.total_tokens else None


__all__ = [
    "Invoke",
    "ModelGateway",
    "PermanentModelError",
    "PieceStream",
    "StreamInvoke",
    "call_outcome",
    "model_calls_of",
]
