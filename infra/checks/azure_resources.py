"""Our own checkov policies for the Bicep under infra/, where checkov's built-in Bicep checks miss
what this app relies on (its ARM checks do not run on Bicep).

Each check reads one resource's properties as checkov resolves them offline: literals, and
parameters through their defaults. A value it cannot resolve (a parameter without a default, a
ternary, a function call) fails the check: it cannot be shown right, and these are settings
that have one right value everywhere, so write them literally. Resources created through
registry modules (br/public:avm/...) are not visible to checkov offline at all.
Loaded with `checkov --external-checks-dir infra/checks` (scripts/infra_check.py).
"""

from __future__ import annotations

from typing import Any

from checkov.arm.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

_MISSING = object()  # never equal to a wanted value


def _get(conf: dict[str, Any], path: str) -> Any:
    """The value at a slash-separated path of properties, or _MISSING."""
    value: Any = conf
    for key in path.split("/"):
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _literal(value: Any, wanted: Any) -> CheckResult:
    """PASSED when the value is one of those wanted (strings compared without case)."""
    options = wanted if isinstance(wanted, tuple) else (wanted,)
    for option in options:
        if isinstance(option, bool) or isinstance(value, bool):
            same = value is option
        else:
            same = isinstance(value, str) and value.lower() == str(option).lower()
        if same:
            return CheckResult.PASSED
    # Missing, another value, or an expression checkov left unresolved (the parameter's name).
    return CheckResult.FAILED


class _PropertyCheck(BaseResourceCheck):
    """Passes when the property at `property_path` is one of `wanted`, written literally."""

    # Not `path`: checkov's BaseCheck keeps the scanned file's path under that name.
    property_path: str
    wanted: Any

    def __init__(
        self,
        check_id: str,
        name: str,
        resources: tuple[str, ...],
        path: str,
        wanted: Any,
        category: CheckCategories,
    ) -> None:
        self.property_path = path
        self.wanted = wanted
        super().__init__(
            name=name, id=check_id, categories=(category,), supported_resources=resources
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = [self.property_path]
        return _literal(_get(conf, self.property_path), self.wanted)


COSMOS = ("Microsoft.DocumentDB/databaseAccounts",)
KEY_VAULT = ("Microsoft.KeyVault/vaults",)
STORAGE = ("Microsoft.Storage/storageAccounts",)
SITES = ("Microsoft.Web/sites",)

# Point-in-time restore of stored runs, threads and audit entries (docs/deploy.md, restore).
cosmos_continuous_backup = _PropertyCheck(
    "CKV_AGENTOPS_1",
    "Cosmos DB account has continuous backup (point-in-time restore)",
    COSMOS,
    "properties/backupPolicy/type",
    "Continuous",
    CheckCategories.BACKUP_AND_RECOVERY,
)
# The app reaches Cosmos DB with its identity; account keys would be a second way in.
cosmos_local_auth_off = _PropertyCheck(
    "CKV_AGENTOPS_2",
    "Cosmos DB account has local (key) authentication disabled",
    COSMOS,
    "properties/disableLocalAuth",
    True,
    CheckCategories.IAM,
)
cosmos_min_tls = _PropertyCheck(
    "CKV_AGENTOPS_3",
    "Cosmos DB account requires TLS 1.2 or later",
    COSMOS,
    "properties/minimalTlsVersion",
    ("Tls12", "Tls13"),
    CheckCategories.ENCRYPTION,
)
key_vault_rbac = _PropertyCheck(
    "CKV_AGENTOPS_4",
    "Key Vault uses Azure RBAC rather than access policies",
    KEY_VAULT,
    "properties/enableRbacAuthorization",
    True,
    CheckCategories.IAM,
)
key_vault_purge_protection = _PropertyCheck(
    "CKV_AGENTOPS_5",
    "Key Vault has purge protection enabled",
    KEY_VAULT,
    "properties/enablePurgeProtection",
    True,
    CheckCategories.BACKUP_AND_RECOVERY,
)
storage_shared_keys_off = _PropertyCheck(
    "CKV_AGENTOPS_6",
    "Storage account has shared key access disabled",
    STORAGE,
    "properties/allowSharedKeyAccess",
    False,
    CheckCategories.IAM,
)
storage_https_only = _PropertyCheck(
    "CKV_AGENTOPS_7",
    "Storage account accepts HTTPS only",
    STORAGE,
    "properties/supportsHttpsTrafficOnly",
    True,
    CheckCategories.ENCRYPTION,
)
storage_min_tls = _PropertyCheck(
    "CKV_AGENTOPS_8",
    "Storage account requires TLS 1.2 or later",
    STORAGE,
    "properties/minimumTlsVersion",
    ("TLS1_2", "TLS1_3"),
    CheckCategories.ENCRYPTION,
)
site_https_only = _PropertyCheck(
    "CKV_AGENTOPS_9",
    "Function App accepts HTTPS only",
    SITES,
    "properties/httpsOnly",
    True,
    CheckCategories.ENCRYPTION,
)
site_min_tls = _PropertyCheck(
    "CKV_AGENTOPS_10",
    "Function App requires TLS 1.2 or later",
    SITES,
    "properties/siteConfig/minTlsVersion",
    ("1.2", "1.3"),
    CheckCategories.ENCRYPTION,
)
