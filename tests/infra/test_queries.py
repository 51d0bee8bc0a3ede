"""Every KQL query of the portal (alerts and workbook) against the names the code emits: each
metric it names is in the registry (agentops/instruments.py) or is one of Agent Framework's GenAI
metrics, and each custom dimension it reads is an attribute of the metric it reads it from,
written as Application Insights stores it (the attribute name unchanged, dots included)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from agent_framework.observability import GEN_AI_METRIC_ATTRIBUTES, OtelAttr

from agentops.instruments import BY_NAME
from tests.infra.bicep import BicepFile

MONITORING = Path(__file__).resolve().parents[2] / "infra" / "monitoring"
QUERY_FILES = sorted((MONITORING / "queries").glob("*.kql"))

# Agent Framework's own metrics (not in our registry: it records them itself), with the
# attributes it puts on them.
_GEN_AI = {str(attribute.value) for attribute in GEN_AI_METRIC_ATTRIBUTES}
AGENT_FRAMEWORK_METRICS = {
    str(OtelAttr.LLM_OPERATION_DURATION.value): frozenset({*_GEN_AI, OtelAttr.ERROR_TYPE.value}),
    str(OtelAttr.LLM_TOKEN_USAGE.value): frozenset({*_GEN_AI, OtelAttr.T_TYPE.value}),
}
KNOWN: dict[str, frozenset[str]] = {
    **{name: spec.attributes for name, spec in BY_NAME.items()},
    **AGENT_FRAMEWORK_METRICS,
}

# Metrics are picked by name equality or membership; any other test on `name` (has, startswith)
# would slip past these checks, and a test below refuses it.
_NAME_EQUALS = re.compile(r'\bname\s*==\s*"([^"]+)"')
_NAME_IN = re.compile(r"\bname\s+in\s*\(([^)]*)\)")
_NAME_OTHER = re.compile(
    r"\bname\s*(=~|!=|!in|in~|!?has\w*|!?contains\w*|!?startswith\w*|!?endswith\w*|matches)"
)
_DIMENSION = re.compile(r'customDimensions\["([^"]+)"\]')
_COMMENT = re.compile(r"//[^\n]*")


def statements(kql: str) -> list[str]:
    """The query's statements (`let x = ...;` and the final tabular expression), comments out."""
    return [part for part in _COMMENT.sub("", kql).split(";") if part.strip()]


def metrics_named(text: str) -> set[str]:
    named = set(_NAME_EQUALS.findall(text))
    for listed in _NAME_IN.findall(text):
        named |= set(re.findall(r'"([^"]+)"', listed))
    return named


def dimensions_read(text: str) -> set[str]:
    return set(_DIMENSION.findall(text))


def test_there_are_queries() -> None:
    assert len(QUERY_FILES) >= 20


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_every_metric_named_exists(path: Path) -> None:
    named = metrics_named(_COMMENT.sub("", path.read_text()))
    assert named - KNOWN.keys() == set()


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_every_dimension_is_an_attribute_of_the_metric_it_is_read_from(path: Path) -> None:
    for statement in statements(path.read_text()):
        dimensions = dimensions_read(statement)
        if not dimensions:
            continue
        named = metrics_named(statement)
        assert named, f"reads {sorted(dimensions)} without naming the metric:\n{statement}"
        for metric in named:
            assert dimensions <= KNOWN[metric], (metric, sorted(dimensions - KNOWN[metric]))


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_dimensions_are_read_by_their_stored_name(path: Path) -> None:
    # customDimensions.http.route would read a nested "http" key: dotted attribute names are
    # stored as they are, so only the bracket form reads them, and the tests check that form.
    assert "customDimensions." not in _COMMENT.sub("", path.read_text())


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_metrics_are_picked_by_exact_name(path: Path) -> None:
    kql = _COMMENT.sub("", path.read_text())
    assert _NAME_OTHER.findall(kql) == []
    if "customMetrics" in kql:
        assert metrics_named(kql)


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_custom_metrics_are_read_from_the_tables_the_exporter_fills(path: Path) -> None:
    kql = _COMMENT.sub("", path.read_text())
    if metrics_named(kql):
        assert "customMetrics" in kql
    lets = set(re.findall(r"\blet (\w+)\s*=", kql))
    tables = set(re.findall(r"^\s*(?:let \w+ = )?([A-Za-z]+)\s*$", kql, flags=re.MULTILINE))
    assert tables - lets <= {"customMetrics", "requests"}, tables


def test_each_query_text_exists_once_and_is_used() -> None:
    from infra.monitoring import build_workbook

    modules = [BicepFile.parse(path) for path in MONITORING.glob("*.bicep")]
    loaded = [path for module in modules for path in module.loaded_files()]
    by_alerts = {p.name for p in loaded if p.suffix == ".kql"}
    by_workbook = {f"{tile.query}.kql" for s in build_workbook.SECTIONS for tile in s.tiles}
    assert len(loaded) == len(set(loaded))
    assert not by_alerts & by_workbook
    assert by_alerts | by_workbook == {p.name for p in QUERY_FILES}
    for bicep in MONITORING.glob("*.bicep"):
        # No query inlined in Bicep: its text lives in queries/ only.
        assert not re.search(r"\|\s*(where|summarize|project|extend)\b", bicep.read_text())


def test_the_checks_catch_a_wrong_name_and_a_wrong_dimension() -> None:
    wrong_metric = 'customMetrics | where name == "agent.request.total"'
    assert metrics_named(wrong_metric) - KNOWN.keys() == {"agent.request.total"}
    listed = 'customMetrics | where name in ("agentops.items.retries", "agentops.item.deferrals")'
    assert metrics_named(listed) - KNOWN.keys() == {"agentops.item.deferrals"}
    assert _NAME_OTHER.findall('customMetrics | where name startswith "agentops."')
    statement = (
        'customMetrics | where name == "agentops.breaker.state"'
        ' | summarize by s = tostring(customDimensions["state"])'
    )
    assert dimensions_read(statement) - KNOWN["agentops.breaker.state"] == {"state"}


API_REQUESTS = '| where url contains "/api/" and url !contains "/api/health/"'


def test_every_requests_query_keeps_to_the_api_the_same_way() -> None:
    # The alerts and the workbook tiles that show their figures must count the same requests:
    # the HTTP API, without health probes and Durable's own webhooks.
    on_requests = [p for p in QUERY_FILES if re.search(r"^requests\b", p.read_text(), re.M)]
    assert len(on_requests) == 4
    for path in on_requests:
        assert API_REQUESTS in path.read_text(), path.name
