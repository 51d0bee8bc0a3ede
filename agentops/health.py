"""Readiness: can this worker serve? The store, blob storage, secrets and the model endpoint are
each asked one cheap question, in parallel, each within a short timeout.

- store: a point read of a run id that never exists (one request, 1 RU on Cosmos DB);
- blobs: the properties of a blob that never exists in the backups container (a missing
  container fails the check: infrastructure creates it, the app does not);
- secrets: every secret the app knows, read through the secret cache (so Key Vault is asked only
  when the cache's TTL has passed, and a value served within the grace period counts as ready);
- model: the endpoint's model list (no tokens, nothing billed). An answer of 404 or 429 still
  shows the endpoint reachable; 401/403 and 5xx do not.

Breaker states are reported but do not fail readiness: an open breaker is the model deployment's
trouble, shared by every instance, and taking instances out of rotation would turn the fast
problem answers callers get now into gateway errors.

A failed check is named with a short reason from a fixed vocabulary or an exception's type name,
never an exception's text (which can carry a URL with a key, or a connection string). An answer
is reused for ``cache_s`` and concurrent probes share one round of checks, so a flood of
anonymous probes costs at most one round per ``cache_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from agentops.backup import CONTAINER as BACKUP_CONTAINER
from agentops.blobs.port import BlobNotFoundError, ContainerNotFoundError
from agentops.bootstrap import Services
from agentops.secrets import SECRET_NAMES

logger = logging.getLogger(__name__)

OK = "ok"
PROBE_RUN_ID = "health-probe"
PROBE_BLOB = "health/probe"


class CheckFailed(Exception):
    """A check's answer, as a short reason that is safe to show anyone."""


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    checks: Mapping[str, str]  # name -> "ok" or why not
    breakers: Mapping[str, str] = field(default_factory=dict)  # deployment -> state

    @property
    def failed(self) -> list[str]:
        return [name for name, outcome in self.checks.items() if outcome != OK]

    @property
    def ready(self) -> bool:
        return not self.failed


Check = Callable[[], Awaitable[None]]


def service_checks(services: Services, timeout_s: float) -> dict[str, Check]:
    """The four checks over the process's services."""

    async def store() -> None:
        await services.store.get_run(PROBE_RUN_ID)

    async def blobs() -> None:
        try:
            await services.blobs.head(BACKUP_CONTAINER, PROBE_BLOB)
        except ContainerNotFoundError:
            raise CheckFailed(f"no container {BACKUP_CONTAINER}") from None
        except BlobNotFoundError:
            return  # the service answered

    async def secrets() -> None:
        await asyncio.gather(*(services.secrets.get(name) for name in SECRET_NAMES))

    async def model() -> None:
        import openai

        try:
            await services.connection.client.models.list(timeout=timeout_s)
        except openai.APIStatusError as error:
            if error.status_code in (404, 429):
                return  # it answered: no model list there, or throttled
            raise CheckFailed(f"HTTP {error.status_code}") from None
        except openai.APIConnectionError as error:
            # The SDK reports a refused connection as a timeout with some transports.
            timed_out = isinstance(error, openai.APITimeoutError) and not _refused(error)
            raise CheckFailed("timed out" if timed_out else "unreachable") from None

    return {"store": store, "blobs": blobs, "secrets": secrets, "model": model}


def _refused(error: BaseException) -> bool:
    """Whether a connection error lies under ``error`` (its causes and contexts)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError | OSError) and not isinstance(current, TimeoutError):
            return True
        current = current.__cause__ or current.__context__
    return False


async def run_checks(checks: Mapping[str, Check], timeout_s: float) -> dict[str, str]:
    """Every check at once, each within ``timeout_s``; its outcome by name."""

    async def one(name: str, check: Check) -> str:
        try:
            await asyncio.wait_for(check(), timeout_s)
        except CheckFailed as failed:
            return str(failed)
        except TimeoutError:
            return "timed out"
        except (ConnectionError, OSError):
            return "unreachable"
        except Exception as error:  # the type only: an exception's text may carry a secret
            return _error_name(error)
        return OK

    outcomes = await asyncio.gather(*(one(name, check) for name, check in checks.items()))
    return dict(zip(checks, outcomes, strict=True))


def _error_name(error: Exception) -> str:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return "unreachable"
    if isinstance(error, ClientAuthenticationError):
        return "refused credentials"
    return type(error).__name__


class ReadinessProbe:
    """The process's readiness, checked at most once per ``cache_s``."""

    def __init__(
        self,
        services: Callable[[], Awaitable[Services]],
        *,
        timeout_s: float,
        cache_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._services = services
        self._timeout_s = timeout_s
        self._cache_s = cache_s
        self._clock = clock
        self._last: tuple[float, ReadinessReport] | None = None
        self._round: asyncio.Future[ReadinessReport] | None = None

    async def check(self) -> ReadinessReport:
        last = self._last
        if last is not None and self._clock() < last[0]:
            return last[1]
        if self._round is None:
            self._round = asyncio.ensure_future(self._check())
            self._round.add_done_callback(self._finished)
        # Shielded: a probe that disconnects must not cancel the round the others wait for.
        return await asyncio.shield(self._round)

    def _finished(self, done: asyncio.Future[ReadinessReport]) -> None:
        self._round = None
        if not done.cancelled() and done.exception() is None:
            self._last = (self._clock() + self._cache_s, done.result())

    async def _check(self) -> ReadinessReport:
        try:
            services = await self._services()
        except Exception as error:  # the services could not be built: nothing else to ask
            logger.warning("readiness: services unavailable (%s)", type(error).__name__)
            return ReadinessReport({"services": _error_name(error)})
        checks = await run_checks(service_checks(services, self._timeout_s), self._timeout_s)
        breakers = {name: state.value for name, state in services.breakers.states().items()}
        report = ReadinessReport(MappingProxyType(checks), MappingProxyType(breakers))
        if not report.ready:
            logger.warning("readiness: %s", ", ".join(f"{n} {checks[n]}" for n in report.failed))
        return report
