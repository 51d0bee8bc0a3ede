"""infra/main.bicep and its modules, read with the tree-sitter Bicep grammar (no Bicep CLI
offline): syntax, module paths, parameters, the containers the code uses, the built-in role and
policy ids, the flags that keep keys off, the parameter files and azure.yaml. Each check is also
run on a broken copy, so that a check that cannot fail would show."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from agentops.backup.manifest import CONTAINER as BACKUPS_CONTAINER
from agentops.reports.service import CONTAINER as REPORTS_CONTAINER
from tests.infra.bicep import BicepFile, Expression, Resource, literal, text
from tests.infra.deployment import (
    INFRA,
    MAIN,
    PARAMETER_FILES,
    ROOT,
    bicep_files,
    blob_container_problems,
    cosmos_container_problems,
    definition_problems,
    missing_modules,
    parameter_file_problems,
)

BICEP = bicep_files()
APP_BLOB_CONTAINERS = {BACKUPS_CONTAINER, REPORTS_CONTAINER}
# The one API version of a resource type that has no GA version.
PREVIEW_ONLY = {"Microsoft.Insights/diagnosticSettings": "2021-05-01-preview"}


def _parse(path: Path) -> BicepFile:
    return BicepFile.parse(path)


def _module(name: str) -> BicepFile:
    return _parse(INFRA / "modules" / f"{name}.bicep")


def _resource(bicep: BicepFile, type_: str) -> Resource:
    found = [r for r in bicep.resources() if r.type == type_]
    assert len(found) == 1, (bicep.path.name, type_, len(found))
    return found[0]


def _value(resource: Resource, *path: str) -> object:
    node = resource.property(*path)
    assert node is not None, (resource.symbol, path)
    return literal(node)


def _broken_copy(tmp_path: Path, path: Path, old: str, new: str) -> Path:
    """A copy of `path` (with its folder, so relative module paths hold) with `old` replaced."""
    folder = tmp_path / path.parent.name
    shutil.copytree(path.parent, folder)
    copy = folder / path.name
    source = copy.read_text()
    assert old in source, old
    copy.write_text(source.replace(old, new, 1))
    return copy


def test_the_deployment_files_are_there() -> None:
    names = {p.relative_to(INFRA).as_posix() for p in BICEP}
    assert names >= {
        "main.bicep",
        "modules/functionapp.bicep",
        "modules/cosmos.bicep",
        "modules/storage.bicep",
        "modules/keyvault.bicep",
        "modules/openai.bicep",
        "modules/rbac.bicep",
        "modules/policy.bicep",
        "modules/durable-task-scheduler.bicep",
    }


@pytest.mark.parametrize("path", BICEP, ids=lambda p: p.name)
def test_parses_without_syntax_errors(path: Path) -> None:
    assert _parse(path).syntax_errors() == []


@pytest.mark.parametrize("path", BICEP, ids=lambda p: p.name)
def test_every_module_path_exists(path: Path) -> None:
    assert missing_modules(_parse(path)) == []


def test_a_missing_module_is_reported(tmp_path: Path) -> None:
    copy = _broken_copy(tmp_path, MAIN, "'modules/rbac.bicep'", "'modules/rbac-gone.bicep'")
    assert missing_modules(_parse(copy)) == ["rbac: modules/rbac-gone.bicep"]


def test_main_composes_the_monitoring_modules() -> None:
    paths = {path for _, path in _parse(MAIN).modules()}
    assert {"monitoring/alerts.bicep", "monitoring/workbook.bicep"} <= paths


@pytest.mark.parametrize("path", BICEP, ids=lambda p: p.name)
def test_every_parameter_is_used(path: Path) -> None:
    bicep = _parse(path)
    assert set(bicep.parameters()) - bicep.references() == set()


def test_an_unused_parameter_is_reported(tmp_path: Path) -> None:
    copy = _broken_copy(
        tmp_path, MAIN, "param location string", "param location string\nparam x int"
    )
    bicep = _parse(copy)
    assert set(bicep.parameters()) - bicep.references() == {"x"}


@pytest.mark.parametrize("path", BICEP, ids=lambda p: p.name)
def test_every_parameter_and_output_is_described(path: Path) -> None:
    bicep = _parse(path)
    for kind in ("parameter_declaration", "output_declaration"):
        for declaration in bicep.declarations(kind):
            before = declaration.prev_named_sibling
            while before is not None and before.type == "comment":
                before = before.prev_named_sibling
            name = bicep.declared_name(declaration)
            assert before is not None and before.type == "decorators", name
            assert "@description(" in text(before), name


@pytest.mark.parametrize("path", BICEP, ids=lambda p: p.name)
def test_api_versions_are_ga(path: Path) -> None:
    for resource in _parse(path).resources():
        if resource.type in PREVIEW_ONLY:
            assert resource.api_version == PREVIEW_ONLY[resource.type]
        else:
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", resource.api_version), resource.symbol


def test_outputs_are_upper_snake() -> None:
    main = _parse(MAIN)
    outputs = [main.declared_name(d) for d in main.declarations("output_declaration")]
    assert outputs and all(re.fullmatch(r"[A-Z][A-Z0-9_]*", o) for o in outputs), outputs


def test_every_cosmos_container_the_code_uses_is_declared_alike() -> None:
    assert cosmos_container_problems(_parse(MAIN)) == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("partitionKey: '/run_id'", "partitionKey: '/id'", "runs: partition key '/id'"),
        ("defaultTtl: -1", "defaultTtl: null", "cache: defaultTtl None"),
        ("name: 'usage'", "name: 'usage2'", "container 'usage' is not declared"),
        ("{ path: '/at', order: 'ascending' }", "{ path: '/at', order: 'descending' }", "audit"),
    ],
)
def test_a_wrong_cosmos_container_is_reported(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    problems = cosmos_container_problems(_parse(_broken_copy(tmp_path, MAIN, old, new)))
    assert any(p.startswith(problem) for p in problems), problems


def test_cosmos_keeps_keys_off_and_backups_continuous() -> None:
    account = _resource(_module("cosmos"), "Microsoft.DocumentDB/databaseAccounts")
    assert _value(account, "properties", "disableLocalAuth") is True
    assert _value(account, "properties", "backupPolicy", "type") == "Continuous"
    container = _resource(
        _module("cosmos"), "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers"
    )
    assert "container.partitionKey" in text(container.body)


def test_every_blob_container_the_code_uses_is_created_and_granted() -> None:
    assert blob_container_problems(_parse(MAIN), APP_BLOB_CONTAINERS) == []


def test_a_missing_blob_container_is_reported(tmp_path: Path) -> None:
    copy = _broken_copy(
        tmp_path, MAIN, "name: 'reports'\n    immutabilityDays", "name: 'x'\n    immutabilityDays"
    )
    assert blob_container_problems(_parse(copy), APP_BLOB_CONTAINERS) == [
        "blob container 'reports' is not created"
    ]


def test_the_audit_exports_are_immutable_and_out_of_the_apps_reach() -> None:
    created = literal(_parse(MAIN).variable("dataBlobContainers"))
    granted = literal(_parse(MAIN).variable("appBlobContainers"))
    assert isinstance(created, list) and isinstance(granted, list)
    exports = [c for c in created if isinstance(c, dict) and c["name"] == "audit-exports"]
    assert exports == [
        {"name": "audit-exports", "immutabilityDays": Expression("auditExportRetentionDays")}
    ]
    assert "audit-exports" not in granted
    storage = _module("storage")
    policy = _resource(
        storage, "Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies"
    )
    days = _value(policy, "properties", "immutabilityPeriodSinceCreationInDays")
    assert days == Expression("container.immutabilityDays")


def test_storage_is_identity_only_with_versioning_and_soft_delete() -> None:
    storage = _module("storage")
    account = _resource(storage, "Microsoft.Storage/storageAccounts")
    assert _value(account, "properties", "allowSharedKeyAccess") is False
    assert _value(account, "properties", "allowBlobPublicAccess") is False
    assert _value(account, "properties", "minimumTlsVersion") == "TLS1_2"
    service = _resource(storage, "Microsoft.Storage/storageAccounts/blobServices")
    assert _value(service, "properties", "deleteRetentionPolicy", "enabled") is True
    assert _value(service, "properties", "isVersioningEnabled") == Expression("versioning")


def test_key_vault_uses_rbac_soft_delete_and_purge_protection() -> None:
    vault = _resource(_module("keyvault"), "Microsoft.KeyVault/vaults")
    assert _value(vault, "properties", "enableRbacAuthorization") is True
    assert _value(vault, "properties", "enableSoftDelete") is True
    assert _value(vault, "properties", "enablePurgeProtection") is True


def test_telemetry_and_openai_refuse_keys() -> None:
    insights = _resource(_module("logging"), "Microsoft.Insights/components")
    assert _value(insights, "properties", "DisableLocalAuth") is True
    openai = _resource(_module("openai"), "Microsoft.CognitiveServices/accounts")
    assert _value(openai, "properties", "disableLocalAuth") is True


def test_the_function_app_runs_python_313_on_flex_consumption_with_its_identity() -> None:
    app = _module("functionapp")
    plan = _resource(app, "Microsoft.Web/serverfarms")
    assert _value(plan, "sku") == {"tier": "FlexConsumption", "name": "FC1"}
    site = _resource(app, "Microsoft.Web/sites")
    runtime = _value(site, "properties", "functionAppConfig", "runtime")
    assert runtime == {"name": "python", "version": "3.13"}
    scale = _value(site, "properties", "functionAppConfig", "scaleAndConcurrency")
    assert scale == {
        "maximumInstanceCount": Expression("maximumInstanceCount"),
        "instanceMemoryMB": Expression("instanceMemoryMB"),
        "alwaysReady": Expression("alwaysReady"),
    }
    assert _value(site, "identity", "type") == "UserAssigned"
    assert _value(site, "properties", "httpsOnly") is True
    host = literal(app.variable("hostSettings"))
    assert isinstance(host, dict)
    assert host["AzureWebJobsStorage__credential"] == "managedidentity"
    assert "AzureWebJobsStorage" not in host  # no connection string, so no key


@pytest.mark.parametrize("path", BICEP, ids=lambda p: p.name)
def test_role_and_policy_ids_are_known_and_named(path: Path) -> None:
    assert definition_problems(_parse(path)) == []


def test_the_role_assignments_are_in_rbac_bicep_only() -> None:
    holders = {
        p.name
        for p in BICEP
        if any(
            r.type
            in {
                "Microsoft.Authorization/roleAssignments",
                "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments",
            }
            for r in _parse(p).resources()
        )
    }
    assert holders == {"rbac.bicep"}


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "'4633458b-17de-408a-b874-0445c86b69e6' // Key Vault Secrets User",
            "'4633458b-17de-408a-b874-0445c86b69e6' // Key Vault Reader",
            "must carry the comment // Key Vault Secrets User",
        ),
        (
            "'3913510d-42f4-4e42-8a64-420c390055eb'",
            "'3913510d-42f4-4e42-8a64-420c390055ec'",
            "is not a known built-in definition",
        ),
    ],
)
def test_a_wrong_role_id_is_reported(tmp_path: Path, old: str, new: str, problem: str) -> None:
    copy = _broken_copy(tmp_path, INFRA / "modules" / "rbac.bicep", old, new)
    problems = definition_problems(_parse(copy))
    assert len(problems) == 1 and problems[0].endswith(problem), problems


def test_the_standby_disables_exactly_the_timer_functions() -> None:
    standby = literal(_parse(MAIN).variable("standbySettings"))
    assert isinstance(standby, dict)
    disabled = {re.fullmatch(r"AzureWebJobs\.(\w+)\.Disabled", k)[1] for k in standby}  # type: ignore[index]
    schedules = (ROOT / "triggers" / "schedules.py").read_text()
    timers = set(re.findall(r"@bp\.timer_trigger\([^)]*\)\n(?:@.*\n)*async def (\w+)", schedules))
    assert timers and disabled == timers
    assert set(standby.values()) == {"true"}


def test_front_door_probes_the_readiness_route() -> None:
    group = _resource(_module("frontdoor-origins"), "Microsoft.Cdn/profiles/originGroups")
    probe = _value(group, "properties", "healthProbeSettings", "probePath")
    assert probe == "/api/health/ready"
    assert "health/ready" in (ROOT / "triggers" / "health_api.py").read_text()


@pytest.mark.parametrize("path", PARAMETER_FILES, ids=lambda p: p.name)
def test_parameter_files_name_only_parameters_and_every_required_one(path: Path) -> None:
    assert parameter_file_problems(path, _parse(MAIN)) == []


def test_the_three_parameter_files_are_there() -> None:
    assert [p.name for p in PARAMETER_FILES] == [
        "main.dev.parameters.json",
        "main.parameters.json",
        "main.prod.parameters.json",
    ]


def test_a_wrong_parameter_file_is_reported(tmp_path: Path) -> None:
    doc = json.loads((INFRA / "main.parameters.json").read_text())
    doc["parameters"]["instanceMemory"] = {"value": 2048}
    del doc["parameters"]["owner"]
    broken = tmp_path / "main.parameters.json"
    broken.write_text(json.dumps(doc))
    assert sorted(parameter_file_problems(broken, _parse(MAIN))) == [
        "main.parameters.json: instanceMemory is not a parameter of main.bicep",
        "main.parameters.json: required parameter owner is not given",
    ]


def test_azure_yaml_provisions_main_and_deploys_the_function_app() -> None:
    doc = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert (ROOT / doc["infra"]["path"] / f"{doc['infra']['module']}.bicep").is_file()
    (service,) = doc["services"].values()
    assert service["host"] == "function" and service["language"] == "python"
    assert (ROOT / service["project"] / "function_app.py").is_file()
    hook = doc["hooks"]["postprovision"]["posix"]["run"]
    assert (ROOT / hook).is_file()
    site = _module("functionapp").path.read_text()
    assert f"'azd-service-name': '{next(iter(doc['services']))}'" in site
