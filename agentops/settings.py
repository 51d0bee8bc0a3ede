"""One typed settings object, read from the environment (Azure app settings or local.settings.json).

Every default works offline on one machine (SQLite, a local blob folder, the devhost model
simulator); setting the Azure variables switches each adapter without touching code. Secrets are
`SecretStr` so they never show in a repr or a log line.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FLEX_INSTANCE_SIZES_MB = frozenset({512, 2048, 4096})


class RateLimit(BaseModel):
    """A deployment's quota, as Azure OpenAI states it: requests and tokens per minute."""

    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)
    # Azure OpenAI enforces a minute's quota over short windows (1 s or 10 s), so a burst of a
    # whole minute's requests is refused: pace within the same window.
    window_s: float = Field(default=10.0, gt=0, le=60)


class Budget(BaseModel):
    """Daily limits for one tenant or one agent; None means unlimited."""

    tokens: int | None = Field(default=None, gt=0)
    cost: float | None = Field(default=None, gt=0)


class Price(BaseModel):
    """Price per 1,000 tokens, in the currency of the price table."""

    input_per_1k: float = Field(ge=0)
    output_per_1k: float = Field(ge=0)
    # Through the Batch API; omitted: half the prices above.
    batch_input_per_1k: float | None = Field(default=None, ge=0)
    batch_output_per_1k: float | None = Field(default=None, ge=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="",
        case_sensitive=False,
        extra="ignore",
        populate_by_name=True,
        env_ignore_empty=True,  # Azure and local.settings.json leave unset settings as ""
    )

    # State: SQLite locally, Cosmos DB in Azure.
    store: Literal["sqlite", "cosmos"] = Field(default="sqlite", alias="AGENTOPS_STORE")
    sqlite_path: Path = Field(default=Path(".data/agentops.db"), alias="SQLITE_PATH")
    cosmos_endpoint: str | None = Field(default=None, alias="COSMOS_ENDPOINT")
    cosmos_key: SecretStr | None = Field(default=None, alias="COSMOS_KEY")  # else identity
    cosmos_database: str = Field(default="agentops", alias="COSMOS_DATABASE")
    # Off only for single-endpoint servers (the local Cosmos-compatible one, the emulator).
    cosmos_endpoint_discovery: bool = Field(default=True, alias="COSMOS_ENDPOINT_DISCOVERY")

    # Blobs (backups, reports): a local folder by default, Azure Blob Storage in Azure, by
    # account URL with the app's identity, or by connection string (Azurite, or a key).
    blob_store: Literal["local", "azure"] = Field(default="local", alias="BLOB_STORE")
    blob_root: Path = Field(default=Path(".data/blobs"), alias="BLOB_ROOT")
    blob_account_url: str | None = Field(default=None, alias="BLOB_ACCOUNT_URL")
    blob_connection_string: SecretStr | None = Field(default=None, alias="BLOB_CONNECTION_STRING")

    # Scheduled maintenance. Timers name their schedule as a binding expression
    # (%BACKUP_SCHEDULE%) that the host resolves, so in Azure the app setting must exist (the
    # deployment sets it to this default); the field holds the default and the test settings.
    backup_schedule: str = Field(default="0 5 * * * *", alias="BACKUP_SCHEDULE")
    # Daily reports, each covering the previous UTC day (%COST_REPORT_SCHEDULE% and so on).
    cost_report_schedule: str = Field(default="0 15 0 * * *", alias="COST_REPORT_SCHEDULE")
    compliance_report_schedule: str = Field(
        default="0 30 0 * * *", alias="COMPLIANCE_REPORT_SCHEDULE"
    )
    # The Flex Consumption plan the app runs on, for the cost report's compute estimate: the
    # instance memory size (MB) and the always-ready instances configured on the app.
    flex_instance_memory_mb: int = Field(default=2048, alias="FLEX_INSTANCE_MEMORY_MB")
    flex_always_ready_instances: int = Field(
        default=0, ge=0, le=1000, alias="FLEX_ALWAYS_READY_INSTANCES"
    )
    # Working hours of the compliance report's `outside_working_hours` rule: an IANA time zone
    # and the hours "start-end" (local time, Monday to Friday).
    compliance_timezone: str = Field(default="UTC", alias="COMPLIANCE_TIMEZONE")
    compliance_work_hours: str = Field(default="8-18", alias="COMPLIANCE_WORK_HOURS")
    # Compressed bytes after which a backup part is closed and the next one begun.
    backup_part_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024 * 1024, alias="BACKUP_PART_BYTES"
    )
    # Every this many backups one is full; those between hold what changed since the one
    # before. 1 makes every backup full. A chain is at most this long to restore.
    backup_full_every: int = Field(default=24, ge=1, le=1000, alias="BACKUP_FULL_EVERY")
    # Backups older than this are deleted, except the newest full one and the bases of those kept.
    backup_retention_days: int = Field(default=30, ge=1, le=36500, alias="BACKUP_RETENTION_DAYS")
    # Where the store splits a collection by count (SQLite), about this many documents go to
    # each backup activity; Cosmos DB splits by physical partition instead.
    backup_range_docs: int = Field(default=100_000, ge=1, le=10_000_000, alias="BACKUP_RANGE_DOCS")

    # Set by App Service when its Authentication (Easy Auth) is on: only then is the caller's
    # X-MS-CLIENT-PRINCIPAL header the platform's word rather than the caller's.
    website_auth_enabled: bool = Field(default=False, alias="WEBSITE_AUTH_ENABLED")

    # Identity: a user-assigned managed identity when AZURE_CLIENT_ID is set.
    azure_client_id: str | None = Field(default=None, alias="AZURE_CLIENT_ID")

    # Model endpoint: the devhost simulator by default, Azure OpenAI or any OpenAI-compatible one.
    model_endpoint: str = Field(default="http://127.0.0.1:7072/v1", alias="MODEL_ENDPOINT")
    model_api_key: SecretStr | None = Field(default=None, alias="MODEL_API_KEY")
    azure_openai_endpoint: str | None = Field(default=None, alias="AZURE_OPENAI_ENDPOINT")
    azure_openai_api_version: str = Field(default="2024-10-21", alias="AZURE_OPENAI_API_VERSION")
    model_timeout_s: float = Field(default=30.0, gt=0, alias="MODEL_TIMEOUT_S")
    model_transport: Literal["aiohttp", "httpx"] = Field(default="aiohttp", alias="MODEL_TRANSPORT")
    agents_file: Path = Field(default=PROJECT_ROOT / "agents.yaml", alias="AGENTS_FILE")

    # Batch runs: B items per activity, at most W activities in flight, sub-orchestrations above
    # CHUNK_SIZE items so that no history grows without bound. B = 8 x ITEM_CONCURRENCY: each
    # activity ends on its slowest lane, so fewer, longer activities idle fewer slots at their
    # ends, and halve the replays and dispatches per item (bench/batch_runs.py, issue 11).
    batch_size: int = Field(default=64, ge=1, le=100, alias="BATCH_SIZE")
    max_in_flight: int = Field(default=8, ge=1, le=256, alias="MAX_IN_FLIGHT")
    # Model calls in flight within one activity (None: the whole batch); an item whose outcome is
    # being stored no longer holds one. Total concurrency is
    # MAX_IN_FLIGHT x min(BATCH_SIZE, ITEM_CONCURRENCY).
    item_concurrency: int | None = Field(default=8, ge=1, le=100, alias="ITEM_CONCURRENCY")
    chunk_size: int = Field(default=5000, ge=10, alias="CHUNK_SIZE")
    max_attempts: int = Field(default=5, ge=1, le=20, alias="MAX_ATTEMPTS")
    retry_base_s: float = Field(default=2.0, gt=0, alias="RETRY_BASE_S")
    retry_max_s: float = Field(default=120.0, gt=0, alias="RETRY_MAX_S")
    inline_retry_max_wait_s: float = Field(default=2.0, ge=0, alias="INLINE_RETRY_MAX_WAIT_S")

    # Request limits at the HTTP edge.
    max_queries: int = Field(default=10_000, ge=1, alias="MAX_QUERIES")
    max_query_bytes: int = Field(default=32 * 1024, ge=1, alias="MAX_QUERY_BYTES")
    max_request_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, alias="MAX_REQUEST_BYTES")
    # Requests per minute per caller, per instance (0: no limit); API Management is the global one.
    tenant_requests_per_minute: int = Field(default=1200, ge=0, alias="TENANT_REQUESTS_PER_MINUTE")
    user_requests_per_minute: int = Field(default=300, ge=0, alias="USER_REQUESTS_PER_MINUTE")

    # The app's public address: URLs handed to callers are built from it, never from the
    # request's Host header. Azure sets WEBSITE_HOSTNAME (as Core Tools and devhost do locally);
    # PUBLIC_BASE_URL overrides it behind a gateway or a custom domain.
    public_base_url: str | None = Field(default=None, alias="PUBLIC_BASE_URL")
    website_hostname: str | None = Field(default=None, alias="WEBSITE_HOSTNAME")
    thread_max_messages: int = Field(default=20, ge=2, alias="THREAD_MAX_MESSAGES")
    threads_per_user_per_day: int = Field(default=1000, ge=1, alias="THREADS_PER_USER_PER_DAY")

    # Azure's own setting: Python worker processes per instance (each has its own limiter).
    functions_worker_process_count: int = Field(
        default=1, ge=1, le=10, alias="FUNCTIONS_WORKER_PROCESS_COUNT"
    )

    # Resilience and cost control, per deployment / tenant / agent, as JSON app settings.
    rate_limits: Annotated[dict[str, RateLimit], NoDecode] = Field(
        default_factory=dict, alias="RATE_LIMITS"
    )
    tenant_budgets: Annotated[dict[str, Budget], NoDecode] = Field(
        default_factory=dict, alias="TENANT_BUDGETS"
    )
    agent_budgets: Annotated[dict[str, Budget], NoDecode] = Field(
        default_factory=dict, alias="AGENT_BUDGETS"
    )
    prices: Annotated[dict[str, Price], NoDecode] = Field(default_factory=dict, alias="PRICES")
    # Batch mode: the blob container that keeps each round's answers for the next round, and
    # what one batch input file may hold (OpenAI: 50,000 requests; Azure Global Batch: 100,000;
    # both 200 MB).
    batch_container: str = Field(default="batch-rounds", alias="BATCH_CONTAINER")
    batch_file_max_requests: int = Field(default=50_000, ge=1, alias="BATCH_FILE_MAX_REQUESTS")
    batch_file_max_bytes: int = Field(
        default=200 * 1024 * 1024, ge=1024, alias="BATCH_FILE_MAX_BYTES"
    )
    # Prompt tokens one run may have enqueued at once per batch deployment ("*": any other), as
    # the deployment's enqueued-token quota allows: {"gpt-4o-mini-batch": 5000000}. Files past
    # it wait, uploaded, until earlier batches end. Empty: no limit.
    batch_enqueued_tokens: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=dict, alias="BATCH_ENQUEUED_TOKENS"
    )
    breaker_failure_threshold: int = Field(default=5, ge=1, alias="BREAKER_FAILURE_THRESHOLD")
    breaker_cooldown_s: float = Field(default=30.0, gt=0, alias="BREAKER_COOLDOWN_S")
    breaker_min_calls: int = Field(default=20, ge=1, alias="BREAKER_MIN_CALLS")
    cache_max_entries: int = Field(default=10_000, ge=0, alias="CACHE_MAX_ENTRIES")
    cache_encryption_key: SecretStr | None = Field(default=None, alias="CACHE_ENCRYPTION_KEY")

    # Secrets: app settings alone by default (where Key Vault references land); naming a vault
    # adds Key Vault behind them, read through a cache so a rotated version arrives without a
    # restart. AZURE_KEY_VAULT_ENDPOINT is the name azd templates give the vault's URL.
    key_vault_url: str | None = Field(
        default=None, validation_alias=AliasChoices("KEY_VAULT_URL", "AZURE_KEY_VAULT_ENDPOINT")
    )
    secrets_ttl_s: float = Field(default=300.0, gt=0, alias="SECRETS_TTL_S")
    # How long a value already read is served while the vault cannot be reached.
    secrets_grace_s: float = Field(default=3600.0, ge=0, alias="SECRETS_GRACE_S")
    # Encryption at rest of sensitive agents' texts: {"active": "<id>", "keys": {"<id>": "<b64>"}}.
    data_encryption_keys: SecretStr | None = Field(default=None, alias="DATA_ENCRYPTION_KEYS")

    # Telemetry: Application Insights in Azure; OTLP, the console or nothing elsewhere. The
    # OpenTelemetry variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME...) are read by
    # agentops.telemetry and the SDK as the specification defines them, not here.
    applicationinsights_connection_string: SecretStr | None = Field(
        default=None, alias="APPLICATIONINSIGHTS_CONNECTION_STRING"
    )
    # Agent Framework's own spans and GenAI metrics while telemetry exports (its own name).
    agent_framework_instrumentation: bool = Field(default=True, alias="ENABLE_INSTRUMENTATION")
    # Log lines: text for people, or one JSON object per line for log collectors.
    log_format: Literal["text", "json"] = Field(default="text", alias="LOG_FORMAT")
    # Debugging only: DEBUG lines may show each query, redacted and cut to 100 characters.
    log_queries: bool = Field(default=False, alias="LOG_QUERIES")

    # Readiness probe: how long each check may take, and how long an answer is reused.
    health_check_timeout_s: float = Field(default=2.0, gt=0, le=30, alias="HEALTH_CHECK_TIMEOUT_S")
    health_cache_s: float = Field(default=2.0, ge=0, le=60, alias="HEALTH_CACHE_S")

    @field_validator(
        "rate_limits",
        "tenant_budgets",
        "agent_budgets",
        "prices",
        "batch_enqueued_tokens",
        mode="before",
    )
    @classmethod
    def _json_mapping(cls, value: object) -> object:
        # App settings are strings; an empty one means "none configured".
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("compliance_timezone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone, such as Europe/Paris or UTC") from None
        return value

    @field_validator("compliance_work_hours")
    @classmethod
    def _work_hours(cls, value: str) -> str:
        start, _, end = value.partition("-")
        if not (start.isdigit() and end.isdigit() and 0 <= int(start) < int(end) <= 24):
            raise ValueError("hours as start-end within 0-24, such as 8-18")
        return value

    def working_hours(self) -> tuple[int, int]:
        start, _, end = self.compliance_work_hours.partition("-")
        return int(start), int(end)

    @field_validator("flex_instance_memory_mb")
    @classmethod
    def _flex_instance_size(cls, value: int) -> int:
        if value not in FLEX_INSTANCE_SIZES_MB:
            raise ValueError(f"one of the plan's instance sizes: {sorted(FLEX_INSTANCE_SIZES_MB)}")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ValueError("an absolute http(s) URL such as https://agents.example.com")
        return value.rstrip("/")

    def base_url(self) -> str:
        """The origin callers reach the app at: https unless the host is this machine."""
        if self.public_base_url:
            return self.public_base_url
        host = (self.website_hostname or "127.0.0.1:7071").strip().rstrip("/")
        name = urlparse(f"//{host}").hostname or ""
        scheme = "http" if name in {"127.0.0.1", "localhost", "::1"} else "https"
        return f"{scheme}://{host}"

    def resolve(self, path: Path) -> Path:
        """Relative paths are relative to the app's folder, as Functions runs from there."""
        return path if path.is_absolute() else PROJECT_ROOT / path


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read once per process: app settings do not change without a restart in Azure either."""
    return Settings()
