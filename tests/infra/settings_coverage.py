"""Which app settings the code reads, and where each is set for Azure: the deployment's
settings cross-check (tests/infra/test_settings_coverage.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import AliasChoices

from agentops.secrets import SECRET_NAMES
from agentops.settings import Settings
from agentops.telemetry import SIGNALS
from tests.infra.bicep import BicepFile, object_keys

ROOT = Path(__file__).resolve().parents[2]
_BINDING = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)%")
_OTEL_LITERAL = re.compile(r'_env\(\s*environ,\s*"(OTEL_[A-Z_]+)"\s*\)')
_OTEL_PER_SIGNAL = re.compile(r'f"(OTEL_[A-Z_]*)\{upper\}([A-Z_]*)"')

# Read by the code, not set by the Bicep on purpose: the default is right in Azure, or the
# platform sets it, or it belongs to the local stack only. docs/deploy.md gives the same reasons.
LEFT_TO_DEFAULT: dict[str, str] = {
    "SQLITE_PATH": "the local store only; Azure uses Cosmos DB (AGENTOPS_STORE=cosmos)",
    "COSMOS_KEY": "keys are off on the account (disableLocalAuth); the identity signs in",
    "COSMOS_ENDPOINT_DISCOVERY": "true, which Azure needs (regions, failover)",
    "BLOB_ROOT": "the local folder only; Azure uses BLOB_ACCOUNT_URL",
    "BLOB_CONNECTION_STRING": "shared keys are off; the identity signs in by BLOB_ACCOUNT_URL",
    "BACKUP_PART_BYTES": "64 MiB parts suit Blob Storage's block uploads",
    "BATCH_CONTAINER": "batch-rounds, the container the Bicep creates",
    "BATCH_FILE_MAX_REQUESTS": "50,000, within both OpenAI's and Azure Global Batch's limit",
    "BATCH_FILE_MAX_BYTES": "200 MB, both providers' limit per file",
    "BATCH_ENQUEUED_TOKENS": "no limit until the batch deployment's quota is known",
    "BACKUP_RANGE_DOCS": "where the store splits by count (SQLite); Cosmos splits by partition",
    "WEBSITE_AUTH_ENABLED": "set by the platform when App Service Authentication is turned on",
    "WEBSITE_HOSTNAME": "set by the platform to the app's host name",
    "MODEL_ENDPOINT": "the simulator's address; AZURE_OPENAI_ENDPOINT takes precedence in Azure",
    "MODEL_API_KEY": "keys are off on the OpenAI account; the identity signs in",
    "MODEL_TIMEOUT_S": "30 s per call, within the host's functionTimeout",
    "MODEL_TRANSPORT": "aiohttp, the measured faster transport (README, Figures)",
    "AGENTS_FILE": "agents.yaml in the deployed package",
    "RETRY_BASE_S": "2 s back-off base, the tuned default",
    "RETRY_MAX_S": "120 s back-off ceiling, the tuned default",
    "INLINE_RETRY_MAX_WAIT_S": "2 s: longer waits go back to the orchestrator's durable timer",
    "MAX_QUERIES": "the API's limit per run; raise with MAX_REQUEST_BYTES if needed",
    "MAX_QUERY_BYTES": "32 KB per query",
    "MAX_REQUEST_BYTES": "64 MB per request body, below the platform's 100 MB",
    "TENANT_REQUESTS_PER_MINUTE": "per instance; API Management is the place for a global limit",
    "USER_REQUESTS_PER_MINUTE": "per instance; as above",
    "THREAD_MAX_MESSAGES": "20 messages kept per conversation",
    "THREADS_PER_USER_PER_DAY": "1000 new conversations per user and day",
    "BREAKER_FAILURE_THRESHOLD": "the tuned breaker default",
    "BREAKER_COOLDOWN_S": "the tuned breaker default",
    "BREAKER_MIN_CALLS": "the tuned breaker default",
    "CACHE_MAX_ENTRIES": "10,000 answers in each worker's in-memory layer, small beside 2 GB",
    "SECRETS_TTL_S": "300 s: a rotated secret is used within five minutes",
    "SECRETS_GRACE_S": "3600 s of the last good value while the vault is unreachable",
    "ENABLE_INSTRUMENTATION": "true: Agent Framework's spans and GenAI metrics go with the rest",
    "LOG_QUERIES": "false: queries stay out of logs in production",
    "HEALTH_CHECK_TIMEOUT_S": "2 s per readiness check, within Front Door's probe timeout",
    "HEALTH_CACHE_S": "2 s reuse of a readiness answer",
    "AZURE_KEY_VAULT_ENDPOINT": "the other name of KEY_VAULT_URL, which the Bicep sets",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "telemetry goes to Application Insights; set to add OTLP",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf, once an OTLP endpoint is set",
    "OTEL_SDK_DISABLED": "telemetry on",
}
for _signal in SIGNALS:
    _upper = _signal.upper()
    LEFT_TO_DEFAULT[f"OTEL_{_upper}_EXPORTER"] = "otlp with an endpoint, else none"
    LEFT_TO_DEFAULT[f"OTEL_EXPORTER_OTLP_{_upper}_ENDPOINT"] = "per signal; no OTLP by default"
    LEFT_TO_DEFAULT[f"OTEL_EXPORTER_OTLP_{_upper}_PROTOCOL"] = "per signal; as the general one"

PLATFORM_SET = frozenset({"WEBSITE_HOSTNAME", "WEBSITE_AUTH_ENABLED"})

# Set by the Bicep for the Functions host, the platform or an SDK rather than read by our code.
HOST_SETTINGS: dict[str, str] = {
    "AzureWebJobsStorage__accountName": "the host's storage, with the identity",
    "AzureWebJobsStorage__credential": "managedidentity",
    "AzureWebJobsStorage__clientId": "the user-assigned identity",
    "AzureWebJobsStorage__blobServiceUri": "blob endpoint of the host's account",
    "AzureWebJobsStorage__queueServiceUri": "queue endpoint (Azure Storage durable backend)",
    "AzureWebJobsStorage__tableServiceUri": "table endpoint (Azure Storage durable backend)",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Entra ID ingestion, host and Python exporter",
    "PYTHON_ENABLE_OPENTELEMETRY": "the worker joins the host's traces",
    "PYTHON_ENABLE_INIT_INDEXING": "the worker serves HTTP through the streams extension",
    "AzureFunctionsJobHost__extensions__durableTask__storageProvider__type": "azureManaged (DTS)",
    "AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName": (
        "the setting below"
    ),
    "DURABLE_TASK_SCHEDULER_CONNECTION_STRING": "scheduler endpoint and identity",
    "AzureWebJobs.hourly_backup.Disabled": "standby region: no timers",
    "AzureWebJobs.cost_report.Disabled": "standby region: no timers",
    "AzureWebJobs.compliance_report.Disabled": "standby region: no timers",
}


def settings_read(root: Path = ROOT) -> list[tuple[str, ...]]:
    """Each setting the code reads, as a tuple of the names that satisfy it (a setting with
    alternative names is satisfied by any): Settings fields, the secret provider's names, the
    binding expressions of host.json and the triggers, and the telemetry module's OTEL_* names."""
    found: list[tuple[str, ...]] = []
    for field in Settings.model_fields.values():
        if isinstance(field.validation_alias, AliasChoices):
            found.append(tuple(str(c) for c in field.validation_alias.choices))
        elif field.alias:
            found.append((field.alias,))
    found += [(name,) for name in SECRET_NAMES]
    sources = [root / "host.json", *sorted((root / "triggers").glob("*.py"))]
    for source in sources:
        found += [(name,) for name in _BINDING.findall(source.read_text())]
    telemetry = (root / "agentops" / "telemetry.py").read_text()
    found += [(name,) for name in _OTEL_LITERAL.findall(telemetry)]
    for prefix, suffix in _OTEL_PER_SIGNAL.findall(telemetry):
        found += [(f"{prefix}{signal.upper()}{suffix}",) for signal in SIGNALS]
    return list(dict.fromkeys(found))


def bicep_settings(main: BicepFile, function_app: BicepFile) -> set[str]:
    """App setting names the Bicep sets: main.bicep's appSettings and standbySettings, and the
    Function App module's own."""
    names: set[str] = set()
    for bicep, variables in (
        (main, ("appSettings", "standbySettings")),
        (function_app, ("hostSettings", "schedulerSettings")),
    ):
        for variable in variables:
            names |= object_keys(bicep.variable(variable))
    return names


def coverage_problems(
    read: list[tuple[str, ...]],
    set_by_bicep: set[str],
    local_settings: Path,
    docs: Path,
) -> list[str]:
    problems = []
    local = json.loads(local_settings.read_text())["Values"]
    documented = docs.read_text() if docs.is_file() else ""
    for names in read:
        label = " / ".join(names)
        if not any(n in set_by_bicep or n in LEFT_TO_DEFAULT for n in names):
            problems.append(f"{label}: neither set by the Bicep nor listed as left to its default")
        # Left out of the sample: per-signal OTEL overrides (the general setting is there), and
        # what the platform sets (a sample value would hide the one devhost sets).
        per_signal = any(f"_{s.upper()}_" in label for s in SIGNALS)
        if not per_signal and label not in PLATFORM_SET and not any(n in local for n in names):
            problems.append(f"{label}: not in {local_settings.name}")
        if not any(f"`{n}`" in documented for n in names):
            problems.append(f"{label}: not in {docs.name}")
    known = {n for names in read for n in names}
    for name in sorted(set_by_bicep - known - set(HOST_SETTINGS)):
        problems.append(f"{name}: set by the Bicep but read by nothing (a typo?)")
    for name in sorted(set(LEFT_TO_DEFAULT) - known):
        problems.append(f"{name}: listed as left to its default but read by nothing")
    return problems
