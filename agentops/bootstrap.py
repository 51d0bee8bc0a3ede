"""The composition root: the one place that reads settings and builds adapters and services.

Built lazily on first use and kept for the life of the worker process, so every activity and
HTTP call shares one store connection, one model connection pool, and one breaker and rate limiter
per deployment. Nothing here runs at import time.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from agentops import telemetry
from agentops.agents.registry import AgentRegistry
from agentops.audit import AuditTrail
from agentops.conversations import ConversationService
from agentops.encryption import KeyRing, RecordSealer
from agentops.model.breaker import BreakerConfig, BreakerRegistry
from agentops.model.budgets import BudgetLimit, Budgets
from agentops.model.cache import ResponseCache
from agentops.model.gateway import ModelGateway
from agentops.model.pricing import Price, PriceTable
from agentops.model.rate_limiter import RateLimiter, RateLimits
from agentops.model.retry import RetryPolicy
from agentops.model.types import ModelAnswer, ModelRequest
from agentops.runs.batch_service import BatchService
from agentops.runs.run_service import RunService
from agentops.settings import RateLimit, Settings, get_settings
from agentops.store.port import Store

if TYPE_CHECKING:  # the Agent Framework and OpenAI SDK load on first use, not at cold start
    from agentops.agents.runner import AgentRunner
    from agentops.model.openai_client import ModelConnection

logger = logging.getLogger(__name__)

# The devhost simulator takes any key; a real endpoint must be given one (or use Entra ID).
_LOCAL_ENDPOINT_KEY = "not-checked-by-local-endpoints"


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: Store
    agents: AgentRegistry
    model: ModelService
    runs: RunService
    batches: BatchService
    conversations: ConversationService
    audit: AuditTrail
    budgets: Budgets
    connection: ModelConnection
    sealer: RecordSealer

    async def aclose(self) -> None:
        await self.connection.aclose()
        await self.store.close()


class ModelService:
    """The gateway around the agent runner: what activities and HTTP calls use."""

    def __init__(self, gateway: ModelGateway, runner: AgentRunner, prices: PriceTable) -> None:
        self._gateway = gateway
        self._runner = runner
        self._prices = prices

    async def call(
        self, request: ModelRequest, *, attempts_used: int = 0, item_key: str = ""
    ) -> ModelAnswer:
        return await self._gateway.call(
            request, self._runner.invoke, attempts_used=attempts_used, item_key=item_key
        )

    def cost(self, request: ModelRequest, answer: ModelAnswer) -> float:
        if answer.cached:
            return 0.0  # a cache hit calls no model
        return self._prices.cost(answer.usage, request.deployment, answer.model)

    def saved_cost(self, request: ModelRequest, answer: ModelAnswer) -> float:
        """What a cache hit would have cost had the model been called."""
        return self._prices.cost(answer.saved_usage, request.deployment, answer.model)


class _BudgetGate:
    def __init__(self, budgets: Budgets) -> None:
        self._budgets = budgets

    async def check(self, tenant: str, agent: str, estimated_tokens: int) -> None:
        await self._budgets.check(tenant, agent, estimated_tokens, fresh=True)


def open_store(settings: Settings) -> Store:
    if settings.store == "cosmos":
        from agentops.store.cosmos import CosmosStore

        if not settings.cosmos_endpoint:
            raise ValueError("AGENTOPS_STORE=cosmos needs COSMOS_ENDPOINT")
        credential: Any = (
            settings.cosmos_key.get_secret_value() if settings.cosmos_key else _credential(settings)
        )
        return CosmosStore(
            settings.cosmos_endpoint,
            credential,
            settings.cosmos_database,
            enable_endpoint_discovery=settings.cosmos_endpoint_discovery,
        )
    from agentops.store.sqlite import SqliteStore

    path = settings.resolve(settings.sqlite_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(path)


def open_model_connection(settings: Settings) -> ModelConnection:
    from agentops.model.openai_client import ModelConnection

    if settings.azure_openai_endpoint:
        return ModelConnection.azure(
            azure_endpoint=settings.azure_openai_endpoint,
            credential=None if settings.model_api_key else _credential(settings),
            api_key=settings.model_api_key,
            api_version=settings.azure_openai_api_version,
            timeout_s=settings.model_timeout_s,
            transport=settings.model_transport,
        )
    key = settings.model_api_key
    if key is None:
        if not _is_loopback(settings.model_endpoint):
            raise ValueError(f"MODEL_API_KEY is required for {settings.model_endpoint}")
        key = SecretStr(_LOCAL_ENDPOINT_KEY)
    return ModelConnection.openai_compatible(
        base_url=settings.model_endpoint,
        api_key=key,
        timeout_s=settings.model_timeout_s,
        transport=settings.model_transport,
    )


@lru_cache(maxsize=4)
def load_registry(agents_file: Path) -> AgentRegistry:
    return AgentRegistry.from_yaml(agents_file)


def check_configuration() -> None:
    """Raise on invalid app settings or an invalid agents.yaml, naming the setting or the agent
    and field. Reads files only (no client, no network), so it can run while the app is indexed:
    a broken deployment then fails at start-up, not on its first request."""
    settings = get_settings()
    load_registry(settings.resolve(settings.agents_file))
    key_ring(settings)  # a malformed key setting fails here; none at all is refused per request


def key_ring(settings: Settings) -> KeyRing | None:
    """The data encryption keys; None when none are configured (sensitive agents are refused)."""
    value = settings.data_encryption_keys
    return None if value is None else KeyRing.from_secret(value)


def build_services(settings: Settings) -> Services:
    telemetry.configure(settings)
    store = open_store(settings)
    registry = load_registry(settings.resolve(settings.agents_file))
    prices = PriceTable(
        {name: Price(p.input_per_1k, p.output_per_1k) for name, p in settings.prices.items()}
    )
    policy = RetryPolicy(
        max_attempts=settings.max_attempts,
        base_s=settings.retry_base_s,
        max_s=settings.retry_max_s,
        inline_max_wait_s=settings.inline_retry_max_wait_s,
    )
    budgets = Budgets(
        store,
        tenants={k: BudgetLimit(v.tokens, v.cost) for k, v in settings.tenant_budgets.items()},
        agents={k: BudgetLimit(v.tokens, v.cost) for k, v in settings.agent_budgets.items()},
    )
    cache_key = settings.cache_encryption_key
    gateway = ModelGateway(
        prices=prices,
        cache=ResponseCache(
            store,
            prices,
            max_entries=settings.cache_max_entries,
            encryption_key=base64.b64decode(cache_key.get_secret_value()) if cache_key else None,
        ),
        budgets=budgets,
        limiter=RateLimiter(
            {
                name: _per_process(lim, settings.functions_worker_process_count)
                for name, lim in settings.rate_limits.items()
            }
        ),
        breakers=BreakerRegistry(
            BreakerConfig(
                failure_threshold=settings.breaker_failure_threshold,
                cool_down_s=settings.breaker_cooldown_s,
                min_calls=settings.breaker_min_calls,
            )
        ),
        policy=policy,
    )
    from agentops.agents.runner import AgentRunner

    connection = open_model_connection(settings)
    runner = AgentRunner(registry, connection)
    model = ModelService(gateway, runner, prices)
    agents = registry
    audit = AuditTrail(store)
    sealer = RecordSealer(key_ring(settings))
    return Services(
        settings=settings,
        store=store,
        agents=agents,
        model=model,
        runs=RunService(store, agents, _BudgetGate(budgets), audit, settings, sealer=sealer),
        batches=BatchService(
            store, agents, model, max_attempts=settings.max_attempts, sealer=sealer
        ),
        conversations=ConversationService(
            store,
            agents,
            model,
            max_messages=settings.thread_max_messages,
            sealer=sealer,
            threads_per_day=settings.threads_per_user_per_day,
        ),
        audit=audit,
        budgets=budgets,
        connection=connection,
        sealer=sealer,
    )


_services: Services | None = None
_lock: asyncio.Lock | None = None


async def get_services() -> Services:
    """The process's services, built on first use (after app settings are in place)."""
    global _services, _lock
    if _services is not None:
        return _services
    if _lock is None:
        _lock = asyncio.Lock()
    async with _lock:
        if _services is None:
            started = datetime.now(UTC)
            _services = build_services(get_settings())
            logger.info(
                "services ready in %.0f ms (store=%s)",
                (datetime.now(UTC) - started).total_seconds() * 1000,
                _services.settings.store,
            )
    return _services


def _per_process(limit: RateLimit, processes: int) -> RateLimits:
    """This worker process's share of a deployment's quota.

    Each worker process paces on its own, so the quota is split between the host's processes;
    RATE_LIMITS is therefore a per-instance figure (divide by the instances the app scales to).
    """

    def share(value: int | None) -> int | None:
        return None if value is None else max(1, value // processes)

    return RateLimits(rpm=share(limit.rpm), tpm=share(limit.tpm), window_s=limit.window_s)


def _credential(settings: Settings) -> Any:
    # Identity, not keys: the app's user-assigned managed identity when one is named.
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    if settings.azure_client_id:
        return ManagedIdentityCredential(client_id=settings.azure_client_id)
    return DefaultAzureCredential()


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlparse

    return (urlparse(url).hostname or "") in {"127.0.0.1", "localhost", "::1"}
