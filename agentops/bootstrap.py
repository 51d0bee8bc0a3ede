"""The composition root: the one place that reads settings and builds adapters and services.

Built lazily on first use and kept for the life of the worker process, so every activity and
HTTP call shares one store connection, one model connection pool, and one breaker and rate limiter
per deployment. Nothing here runs at import time.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from agentops import telemetry
from agentops.agents.registry import AgentRegistry
from agentops.audit import AuditTrail
from agentops.audit_writer import AuditWriter
from agentops.backup import BackupKeys, BackupService
from agentops.blobs import BlobStore
from agentops.conversations import ConversationService
from agentops.encryption import KeyRing, RecordSealer
from agentops.log_format import configure_logging
from agentops.logging_safety import install_log_escaping
from agentops.model.batch_api import OpenAIBatchApi
from agentops.model.batch_files import FileLimits
from agentops.model.breaker import BreakerConfig, BreakerRegistry
from agentops.model.budgets import BudgetGate, BudgetLimit, Budgets
from agentops.model.cache import ResponseCache
from agentops.model.gateway import ModelGateway
from agentops.model.pricing import Price, PriceTable
from agentops.model.rate_limiter import RateLimiter, RateLimits
from agentops.model.retry import RetryPolicy
from agentops.reports.anomalies import ComplianceRules
from agentops.reports.price_book import PriceBook, load_price_book
from agentops.reports.service import FlexPlan, ReportService
from agentops.request_limits import RequestLimiter
from agentops.runs.batch_mode_service import BatchModeService
from agentops.runs.batch_service import BatchService
from agentops.runs.run_service import RunService
from agentops.secrets import (
    SECRET_NAMES,
    CachedSecrets,
    EnvironmentSecrets,
    KeyVaultSecrets,
    LayeredSecrets,
    SecretProvider,
    require,
)
from agentops.settings import RateLimit, Settings, get_settings
from agentops.store.ports import CollectionStore, Store

if TYPE_CHECKING:  # the Agent Framework and OpenAI SDK load on first use, not at cold start
    from azure.core.credentials_async import AsyncTokenCredential

    from agentops.model.openai_client import ModelConnection

logger = logging.getLogger(__name__)

# The devhost simulator takes any key; a real endpoint must be given one (or use Entra ID).
_LOCAL_ENDPOINT_KEY = "not-checked-by-local-endpoints"


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: Store
    agents: AgentRegistry
    model: ModelGateway
    runs: RunService
    batches: BatchService
    conversations: ConversationService
    audit: AuditWriter
    budgets: Budgets
    connection: ModelConnection
    request_limiter: RequestLimiter
    secrets: SecretProvider
    sealer: RecordSealer
    blobs: BlobStore
    breakers: BreakerRegistry
    limiter: RateLimiter  # the one the gateway paces with: read for the operations route
    batch_mode: BatchModeService

    async def secret(self, name: str) -> SecretStr | None:
        """A secret by the app's name (``BACKUP_ENCRYPTION_KEY``); None when it is not set."""
        return await self.secrets.get(name)

    async def backups(self) -> BackupService:
        """The backup service under the current BACKUP_ENCRYPTION_KEY (read through the secret
        provider each time, so a rotated key is used without a restart)."""
        keys = BackupKeys.from_secret(await self.secret("BACKUP_ENCRYPTION_KEY"))
        return backup_service(self.settings, self.store, self.blobs, keys)

    def reports(self) -> ReportService:
        """The report service over the store, the blob store and the agents of this process."""
        return ReportService(
            self.store,
            self.blobs,
            self.agents,
            prices=price_book(),
            plan=report_plan(self.settings),
            compliance_rules=compliance_rules(self.settings),
        )

    async def aclose(self) -> None:
        try:
            await self.audit.aclose()  # queued audit entries, before the store closes
        finally:
            try:
                await self.connection.aclose()
                await self.batch_mode.aclose()
                await self.store.close()
                await self.blobs.close()
            finally:
                await self.secrets.aclose()


@dataclass(frozen=True, slots=True)
class StartupSecrets:
    """Secrets read once, when services are built: the clients that use them take a fixed value."""

    cache_encryption_key: SecretStr | None = None
    cosmos_key: SecretStr | None = None
    data_encryption_keys: SecretStr | None = None

    @classmethod
    async def read(cls, settings: Settings, secrets: SecretProvider) -> StartupSecrets:
        return cls(
            cache_encryption_key=await secrets.get("CACHE_ENCRYPTION_KEY"),
            cosmos_key=await secrets.get("COSMOS_KEY") if settings.store == "cosmos" else None,
            data_encryption_keys=await secrets.get("DATA_ENCRYPTION_KEYS"),
        )


def open_store(settings: Settings, cosmos_key: SecretStr | None = None) -> Store:
    if settings.store == "cosmos":
        from agentops.store.cosmos import CosmosStore

        if not settings.cosmos_endpoint:
            raise ValueError("AGENTOPS_STORE=cosmos needs COSMOS_ENDPOINT")
        key = cosmos_key if cosmos_key is not None else settings.cosmos_key
        credential: Any = key.get_secret_value() if key else _credential(settings)
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


def open_model_connection(
    settings: Settings, secrets: SecretProvider | None = None
) -> ModelConnection:
    """The model endpoint's client. Its key, when it has one, is read through ``secrets``
    before each request, so a key rotated in Key Vault is used without a restart."""
    from agentops.model.openai_client import ModelConnection

    secrets = secrets if secrets is not None else open_secrets(settings)
    if settings.azure_openai_endpoint:
        # Entra ID unless a key is set in app settings: identity, not keys.
        use_key = settings.model_api_key is not None
        return ModelConnection.azure(
            azure_endpoint=settings.azure_openai_endpoint,
            credential=None if use_key else _credential(settings),
            api_key=_model_key(secrets) if use_key else None,
            api_version=settings.azure_openai_api_version,
            timeout_s=settings.model_timeout_s,
            transport=settings.model_transport,
        )
    local = _is_loopback(settings.model_endpoint)
    if settings.model_api_key is None and not settings.key_vault_url and not local:
        raise ValueError(f"MODEL_API_KEY is required for {settings.model_endpoint}")
    # From app settings, else the vault; a local endpoint with neither gets a placeholder.
    key = _model_key(secrets, fallback=SecretStr(_LOCAL_ENDPOINT_KEY) if local else None)
    return ModelConnection.openai_compatible(
        base_url=settings.model_endpoint,
        api_key=key,
        timeout_s=settings.model_timeout_s,
        transport=settings.model_transport,
    )


def report_plan(settings: Settings) -> FlexPlan:
    """The app's Flex Consumption plan as the cost report's compute estimate needs it."""
    return FlexPlan(
        instance_memory_mb=settings.flex_instance_memory_mb,
        always_ready_instances=settings.flex_always_ready_instances,
        batch_size=settings.batch_size,
    )


def compliance_rules(settings: Settings) -> ComplianceRules:
    """The anomaly rules, with the working hours of the organisation the app serves."""
    start, end = settings.working_hours()
    return ComplianceRules(
        timezone=settings.compliance_timezone, work_start_hour=start, work_end_hour=end
    )


@lru_cache(maxsize=1)
def price_book() -> PriceBook:
    """The versioned price table of the cost report (agentops/reports/prices.yaml)."""
    return load_price_book()


@lru_cache(maxsize=4)
def load_registry(agents_file: Path) -> AgentRegistry:
    return AgentRegistry.from_yaml(agents_file)


def check_configuration() -> None:
    """Raise on invalid app settings or an invalid agents.yaml, naming the setting or the agent
    and field. Reads files only (no client, no network), so it can run while the app is indexed:
    a broken deployment then fails at start-up, not on its first request."""
    install_log_escaping()  # before any request: nothing from outside may forge a log line
    settings = get_settings()
    configure_logging(settings)
    telemetry.check(settings)  # an OTEL_* value the app cannot honour fails here, named
    load_registry(settings.resolve(settings.agents_file))
    key_ring(settings)  # a malformed key setting fails here; none at all is refused per request


def key_ring(settings: Settings, value: SecretStr | None = None) -> KeyRing | None:
    """The data encryption keys (`value` from the secret provider, else the app setting); None
    when none are configured, and sensitive agents are then refused."""
    value = value if value is not None else settings.data_encryption_keys
    return None if value is None else KeyRing.from_secret(value)


def open_secrets(
    settings: Settings, *, credential: AsyncTokenCredential | None = None, **client_options: Any
) -> SecretProvider:
    """App settings (literals, or Key Vault references resolved by the platform), then Key Vault
    behind the TTL cache when KEY_VAULT_URL names a vault. ``credential`` and ``client_options``
    (SDK keyword arguments) replace the app's identity and the SDK's defaults."""
    values: dict[str, str | SecretStr | None] = {
        name: os.environ.get(name) for name in SECRET_NAMES
    }
    # Secrets that are also Settings fields come from the settings object, so a Settings built
    # in code is honoured as a Settings read from the environment would be.
    values |= {
        "MODEL_API_KEY": settings.model_api_key,
        "CACHE_ENCRYPTION_KEY": settings.cache_encryption_key,
        "COSMOS_KEY": settings.cosmos_key,
        "DATA_ENCRYPTION_KEYS": settings.data_encryption_keys,
    }
    app_settings = EnvironmentSecrets(values)
    if not settings.key_vault_url:
        return app_settings
    vault = KeyVaultSecrets.connect(
        settings.key_vault_url,
        credential if credential is not None else _credential(settings),
        **client_options,
    )
    cached = CachedSecrets(vault, ttl_s=settings.secrets_ttl_s, grace_s=settings.secrets_grace_s)
    return LayeredSecrets(app_settings, cached)


async def open_services(settings: Settings, secrets: SecretProvider | None = None) -> Services:
    """``build_services`` with the start-up secrets read through the secret provider (which
    may be Key Vault, so this is async)."""
    secrets = secrets if secrets is not None else open_secrets(settings)
    try:
        startup = await StartupSecrets.read(settings, secrets)
        return build_services(settings, secrets=secrets, startup=startup)
    except BaseException:
        await secrets.aclose()
        raise


def build_services(
    settings: Settings,
    *,
    secrets: SecretProvider | None = None,
    startup: StartupSecrets | None = None,
) -> Services:
    """The services; without ``startup``, start-up secrets come from app settings alone."""
    if startup is None:
        if settings.key_vault_url:
            raise ValueError("with KEY_VAULT_URL set, build services with open_services")
        startup = StartupSecrets(
            settings.cache_encryption_key, settings.cosmos_key, settings.data_encryption_keys
        )
    secrets = secrets if secrets is not None else open_secrets(settings)
    install_log_escaping()
    configure_logging(settings)
    telemetry.configure(settings)
    store = open_store(settings, startup.cosmos_key)
    registry = load_registry(settings.resolve(settings.agents_file))
    prices = PriceTable(
        {
            name: Price(
                p.input_per_1k, p.output_per_1k, p.batch_input_per_1k, p.batch_output_per_1k
            )
            for name, p in settings.prices.items()
        }
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
    cache_key = startup.cache_encryption_key
    breakers = BreakerRegistry(
        BreakerConfig(
            failure_threshold=settings.breaker_failure_threshold,
            cool_down_s=settings.breaker_cooldown_s,
            min_calls=settings.breaker_min_calls,
        )
    )
    limiter = RateLimiter(
        {
            name: _per_process(lim, settings.functions_worker_process_count)
            for name, lim in settings.rate_limits.items()
        }
    )
    from agentops.agents.batch_rounds import BatchRounds
    from agentops.agents.runner import AgentRunner

    connection = open_model_connection(settings, secrets)
    runner = AgentRunner(registry, connection)
    model = ModelGateway(
        runner.invoke,
        prices=prices,
        cache=ResponseCache(
            store,
            max_entries=settings.cache_max_entries,
            encryption_key=base64.b64decode(cache_key.get_secret_value()) if cache_key else None,
        ),
        budgets=budgets,
        limiter=limiter,
        breakers=breakers,
        policy=policy,
        stream_invoke=runner.stream,
    )
    agents = registry
    blobs = open_blobs(settings)
    batch_mode = BatchModeService(
        store,
        agents,
        BatchRounds(registry),
        OpenAIBatchApi(connection.client),
        prices,
        blobs,
        container=settings.batch_container,
        limits=FileLimits(settings.batch_file_max_requests, settings.batch_file_max_bytes),
        enqueued_tokens=settings.batch_enqueued_tokens,
    )
    audit = AuditWriter(AuditTrail(store))
    sealer = RecordSealer(key_ring(settings, startup.data_encryption_keys))
    return Services(
        settings=settings,
        store=store,
        agents=agents,
        model=model,
        runs=RunService(store, agents, BudgetGate(budgets), settings, sealer=sealer, prices=prices),
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
        request_limiter=RequestLimiter(
            tenant_per_minute=settings.tenant_requests_per_minute,
            user_per_minute=settings.user_requests_per_minute,
        ),
        secrets=secrets,
        sealer=sealer,
        blobs=blobs,
        breakers=breakers,
        limiter=limiter,
        batch_mode=batch_mode,
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
            _services = await open_services(get_settings())
            logger.info(
                "services ready in %.0f ms (store=%s)",
                (datetime.now(UTC) - started).total_seconds() * 1000,
                _services.settings.store,
            )
    return _services


async def secret(name: str) -> SecretStr | None:
    """A secret by the app's name, through the process's secret provider."""
    return await (await get_services()).secret(name)


def _model_key(
    secrets: SecretProvider, fallback: SecretStr | None = None
) -> Callable[[], Awaitable[SecretStr]]:
    """The model key as the SDK reads it before each request: through the secret cache."""

    async def current() -> SecretStr:
        if fallback is None:
            return await require(secrets, "MODEL_API_KEY")
        return await secrets.get("MODEL_API_KEY") or fallback

    return current


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


def backup_service(
    settings: Settings, store: CollectionStore, blobs: BlobStore, keys: BackupKeys
) -> BackupService:
    """The backup service as the app settings configure it (activities and CLI alike)."""
    return BackupService(
        store,
        blobs,
        keys,
        part_bytes=settings.backup_part_bytes,
        full_every=settings.backup_full_every,
        retention_days=settings.backup_retention_days,
        range_docs=settings.backup_range_docs,
    )


# --- Blob storage (backups, reports) ---------------------------------------------------------


def open_blobs(settings: Settings) -> BlobStore:
    """The blob store that BLOB_STORE names: a folder under BLOB_ROOT, or Azure Blob Storage by
    BLOB_ACCOUNT_URL with the app's identity or by BLOB_CONNECTION_STRING. The caller closes it."""
    if settings.blob_store == "azure":
        from agentops.blobs.azure import AzureBlobStore

        if settings.blob_connection_string and settings.blob_account_url:
            raise ValueError("set BLOB_ACCOUNT_URL or BLOB_CONNECTION_STRING, not both")
        if settings.blob_connection_string:
            return AzureBlobStore.from_connection_string(settings.blob_connection_string)
        if not settings.blob_account_url:
            raise ValueError("BLOB_STORE=azure needs BLOB_ACCOUNT_URL or BLOB_CONNECTION_STRING")
        return AzureBlobStore.from_account_url(settings.blob_account_url, _credential(settings))
    from agentops.blobs.local import LocalBlobStore

    return LocalBlobStore(settings.resolve(settings.blob_root))
