"""The monitoring Bicep files, read with the tree-sitter Bicep grammar (the Bicep CLI is not on
PyPI): no syntax error, every loadTextContent path present, every parameter used, API versions
that exist and are not previews, every alert with a severity and someone to tell."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra.bicep import BicepFile, Node, Resource, object_property, string_value, text

MONITORING = Path(__file__).resolve().parents[2] / "infra" / "monitoring"
BICEP_FILES = sorted(MONITORING.glob("*.bicep"))

# The newest GA version of each resource type, as listed in Azure's template reference when the
# files were written. A newer one is welcome: update both places.
GA_API_VERSIONS = {
    "Microsoft.Insights/actionGroups": "2023-01-01",
    "Microsoft.Insights/scheduledQueryRules": "2023-12-01",
    "Microsoft.Insights/metricAlerts": "2018-03-01",
    "Microsoft.Insights/workbooks": "2023-06-01",
}
ALERT_TYPES = {"Microsoft.Insights/scheduledQueryRules", "Microsoft.Insights/metricAlerts"}
_API_VERSION = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(-preview)?$")


def _parsed() -> list[BicepFile]:
    return [BicepFile.parse(path) for path in BICEP_FILES]


def _resources() -> list[tuple[BicepFile, Resource]]:
    return [(bicep, resource) for bicep in _parsed() for resource in bicep.resources()]


def test_there_are_the_two_modules() -> None:
    assert {path.name for path in BICEP_FILES} >= {"alerts.bicep", "workbook.bicep"}


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.name)
def test_parses_without_syntax_errors(path: Path) -> None:
    assert BicepFile.parse(path).syntax_errors() == []


def test_the_parser_does_report_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.bicep"
    broken.write_text("param x string\nresource r 'A.B/c@2023-01-01' = {\n  name: \n}\n")
    assert BicepFile.parse(broken).syntax_errors()


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.name)
def test_every_loaded_file_exists(path: Path) -> None:
    bicep = BicepFile.parse(path)
    missing = [str(p) for p in bicep.loaded_files() if not p.is_file()]
    assert missing == []


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.name)
def test_every_parameter_is_used(path: Path) -> None:
    bicep = BicepFile.parse(path)
    assert bicep.parameters()
    unused = set(bicep.parameters()) - bicep.references()
    assert unused == set()


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.name)
def test_every_parameter_and_output_is_described(path: Path) -> None:
    bicep = BicepFile.parse(path)
    for kind in ("parameter_declaration", "output_declaration"):
        for declaration in bicep.declarations(kind):
            before = declaration.prev_named_sibling
            assert before is not None and before.type == "decorators", bicep.declared_name(
                declaration
            )
            assert "@description(" in text(before), bicep.declared_name(declaration)


def test_api_versions_are_well_formed_ga_and_current() -> None:
    for bicep, resource in _resources():
        where = f"{bicep.path.name}: {resource.symbol}"
        assert _API_VERSION.match(resource.api_version), where
        assert not resource.api_version.endswith("-preview"), where
        assert GA_API_VERSIONS.get(resource.type) == resource.api_version, where


def test_every_alert_has_a_severity_and_actions() -> None:
    alerts = [(b, r) for b, r in _resources() if r.type in ALERT_TYPES]
    assert len(alerts) == 5  # error rate, p99, failed runs, open breaker, memory
    for _, alert in alerts:
        severity = alert.property("properties", "severity")
        assert severity is not None and severity.type == "number", alert.symbol
        assert 0 <= int(text(severity)) <= 4, alert.symbol
        if alert.type == "Microsoft.Insights/scheduledQueryRules":
            actions = alert.property("properties", "actions", "actionGroups")
        else:
            actions = alert.property("properties", "actions")
        assert actions is not None, alert.symbol
        assert actions.type in ("identifier", "array", "for_statement"), alert.symbol
        assert alert.property("properties", "enabled") is not None, alert.symbol


def condition_value(obj: Node, key: str, *, required: bool = True) -> Node:
    found = object_property(obj, key)
    assert found is not None or not required, key
    return found  # type: ignore[return-value]


def test_log_alerts_load_their_query_and_measure_a_column_it_returns() -> None:
    rules = [r for _, r in _resources() if r.type == "Microsoft.Insights/scheduledQueryRules"]
    assert len(rules) == 4
    for rule in rules:
        allof = rule.property("properties", "criteria", "allOf")
        assert allof is not None and allof.type == "array"
        for condition in allof.named_children:
            query = condition_value(condition, "query")
            assert query.type == "call_expression", f"{rule.symbol}: query must be loaded"
            assert text(query.named_children[0]) == "loadTextContent"
            path = MONITORING / str(string_value(query.named_children[1].named_children[0]))
            kql = path.read_text()
            column = string_value(condition_value(condition, "metricMeasureColumn"))
            assert column and re.search(rf"\b{re.escape(column)}\s*=", kql), rule.symbol
            dimensions = condition_value(condition, "dimensions", required=False)
            for dimension in dimensions.named_children if dimensions is not None else []:
                name = string_value(condition_value(dimension, "name"))
                assert name and re.search(rf"\bby\b.*\b{re.escape(name)}\b", kql), rule.symbol


def test_the_workbook_is_shared_and_built_from_the_json_file() -> None:
    (workbook,) = [r for _, r in _resources() if r.type == "Microsoft.Insights/workbooks"]
    kind = workbook.property("kind")
    assert kind is not None and string_value(kind) == "shared"
    version = workbook.property("properties", "version")
    assert version is not None and string_value(version) == "Notebook/1.0"
    serialized = workbook.property("properties", "serializedData")
    assert serialized is not None and "loadTextContent('workbook.json')" in text(serialized)
    assert "__APPLICATION_INSIGHTS_ID__" in text(serialized)  # the fallback resource filled in
