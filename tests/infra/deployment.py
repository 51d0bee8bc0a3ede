"""Checks of the deployment (infra/main.bicep, its modules, parameter files) against the code,
each returning the problems it finds so that a test can also run it on a broken copy."""

from __future__ import annotations

import json
import re
from pathlib import Path

from agentops.store.containers import CONTAINERS
from tests.infra.bicep import BicepFile, Expression, literal

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
PARAMETER_FILES = sorted(INFRA.glob("main*.parameters.json"))

# Built-in Azure role and policy definitions: their ids are the same in every tenant. Each was
# looked up in Microsoft's built-in role and policy lists, not derived; a Bicep file may use an
# id only with the name beside it.
KNOWN_DEFINITIONS = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd": "Cognitive Services OpenAI User",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "0ad04412-c4d5-4796-b79c-f76d14c8d402": "Durable Task Data Contributor",
    "00000000-0000-0000-0000-000000000002": "Cosmos DB Built-in Data Contributor",
    "871b6d14-10aa-478d-b590-94f262ecfa99": "Require a tag on resources",
    "404c3081-a854-4457-ae30-26a93ef643f9": "Secure transfer to storage accounts should be enabled",
    "4733ea7b-a883-42fe-8cac-97454c2a9e4a": (
        "Storage accounts should have infrastructure encryption"
    ),
    "8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54": "Storage accounts should prevent shared key access",
    "34c877ad-507e-4c82-993e-3452a6e0ad3c": "Storage accounts should restrict network access",
    "5450f5bd-9c72-4390-a9c4-a7aba4edfdd2": (
        "Cosmos DB database accounts should have local authentication methods disabled"
    ),
}
_GUID = re.compile(r"'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'")


def bicep_files() -> list[Path]:
    return sorted([MAIN, *INFRA.glob("modules/*.bicep")])


def missing_modules(bicep: BicepFile) -> list[str]:
    return [
        f"{symbol}: {path}"
        for symbol, path in bicep.modules()
        if not (bicep.path.parent / path).is_file()
    ]


def definition_problems(bicep: BicepFile) -> list[str]:
    """Every GUID literal is a known built-in definition, with its name in a comment on the line."""
    problems = []
    for number, line in enumerate(bicep.path.read_text().splitlines(), start=1):
        for guid in _GUID.findall(line):
            name = KNOWN_DEFINITIONS.get(guid)
            where = f"{bicep.path.name}:{number}"
            if name is None:
                problems.append(f"{where}: {guid} is not a known built-in definition")
            elif not re.search(rf"//\s*{re.escape(name)}\s*$", line):
                problems.append(f"{where}: {guid} must carry the comment // {name}")
    return problems


def cosmos_container_problems(main: BicepFile) -> list[str]:
    """main.bicep's containers against agentops/store/containers.py: names, partition keys,
    TTL and composite indexes."""
    declared = literal(main.variable("cosmosContainers"))
    assert isinstance(declared, list)
    by_name = {str(c["name"]): c for c in declared if isinstance(c, dict)}
    problems = []
    for spec in CONTAINERS:
        found = by_name.pop(spec.name, None)
        if found is None:
            problems.append(f"container {spec.name!r} is not declared")
            continue
        if found.get("partitionKey") != spec.partition_key_path:
            problems.append(
                f"{spec.name}: partition key {found.get('partitionKey')!r}, "
                f"the code uses {spec.partition_key_path!r}"
            )
        if found.get("defaultTtl") != spec.default_ttl:
            problems.append(
                f"{spec.name}: defaultTtl {found.get('defaultTtl')!r}, "
                f"the code expects {spec.default_ttl!r}"
            )
        expected = spec.indexing_policy().get("compositeIndexes", [])
        if found.get("compositeIndexes") != expected:
            problems.append(f"{spec.name}: composite indexes differ from the code's")
    problems += [f"container {name!r} is declared but the code does not use it" for name in by_name]
    return problems


def blob_container_problems(main: BicepFile, used: set[str]) -> list[str]:
    """Every blob container the app writes is created, and the app is granted it."""
    created = literal(main.variable("dataBlobContainers"))
    granted = literal(main.variable("appBlobContainers"))
    assert isinstance(created, list) and isinstance(granted, list)
    names = {c["name"] for c in created if isinstance(c, dict)}
    problems = [f"blob container {n!r} is not created" for n in sorted(used - names)]
    ungranted = sorted(used - set(granted))
    problems += [f"the app is not granted blob container {n!r}" for n in ungranted]
    return problems


def declared_parameters(main: BicepFile) -> dict[str, bool]:
    """Parameter name -> whether it has a default."""
    found = {}
    for declaration in main.declarations("parameter_declaration"):
        has_default = any(child.type == "=" for child in declaration.children)
        found[main.declared_name(declaration)] = has_default
    return found


def parameter_file_problems(path: Path, main: BicepFile) -> list[str]:
    params = declared_parameters(main)
    given = json.loads(path.read_text())["parameters"]
    problems = [
        f"{path.name}: {name} is not a parameter of main.bicep"
        for name in given
        if name not in params
    ]
    problems += [
        f"{path.name}: required parameter {name} is not given"
        for name, has_default in params.items()
        if not has_default and name not in given
    ]
    return problems


def is_expression(value: object) -> bool:
    return isinstance(value, Expression)
