"""Our checkov policies (infra/checks) against small Bicep fixtures, run by the real checkov from
the tools' venv that scripts/infra-check.sh installs, and the harness's reading of checkov's
JSON: a file checkov cannot parse must fail the harness although checkov exits 0."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "checkov"
CHECKOV = ROOT / ".tools" / "infra-venv" / "bin" / "checkov"
OUR_CHECKS = {f"CKV_AGENTOPS_{number}" for number in range(1, 11)}
COSMOS = "Microsoft.DocumentDB/databaseAccounts.cosmos"
VAULT = "Microsoft.KeyVault/vaults.vault"
STORAGE = "Microsoft.Storage/storageAccounts.storage"
SITE = "Microsoft.Web/sites.site"
EXPECTED = {
    ("CKV_AGENTOPS_1", COSMOS),  # continuous backup
    ("CKV_AGENTOPS_2", COSMOS),  # local auth off
    ("CKV_AGENTOPS_3", COSMOS),  # TLS 1.2
    ("CKV_AGENTOPS_4", VAULT),  # RBAC
    ("CKV_AGENTOPS_5", VAULT),  # purge protection
    ("CKV_AGENTOPS_6", STORAGE),  # shared keys off
    ("CKV_AGENTOPS_7", STORAGE),  # HTTPS only
    ("CKV_AGENTOPS_8", STORAGE),  # TLS 1.2
    ("CKV_AGENTOPS_9", SITE),  # HTTPS only
    ("CKV_AGENTOPS_10", SITE),  # TLS 1.2
}


@pytest.fixture(scope="module")
def checkov() -> Path:
    if not CHECKOV.exists():
        reason = "the infra tools are not installed: run scripts/infra-check.sh"
        # scripts/test.sh installs them first and requires this test to run.
        (pytest.fail if os.environ.get("AGENTOPS_REQUIRE_INFRA_TOOLS") else pytest.skip)(reason)
    return CHECKOV


@functools.cache
def _harness() -> ModuleType:
    """scripts/infra_check.py, a script rather than a module of a package."""
    spec = importlib.util.spec_from_file_location(
        "infra_check", ROOT / "scripts" / "infra_check.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _scan(checkov: Path, folder: Path) -> tuple[str, list[dict[str, Any]]]:
    result = subprocess.run(
        [
            str(checkov),
            "-d",
            str(folder),
            "--framework",
            "bicep",
            "--external-checks-dir",
            str(ROOT / "infra" / "checks"),
            "--skip-download",
            "--output",
            "json",
            "--compact",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=90,
    )
    return result.stdout, _harness().checkov_reports(result.stdout)


def _ours(reports: list[dict[str, Any]], outcome: str) -> set[tuple[str, str]]:
    return {
        (check["check_id"], check["resource"])
        for report in reports
        for check in report["results"][outcome]
        if check["check_id"] in OUR_CHECKS
    }


def test_every_policy_passes_a_resource_written_as_infra_must(checkov: Path) -> None:
    _, reports = _scan(checkov, FIXTURES / "good")
    assert _ours(reports, "passed_checks") == EXPECTED
    assert _ours(reports, "failed_checks") == set()


def test_every_policy_fails_the_resource_that_breaks_it(checkov: Path) -> None:
    _, reports = _scan(checkov, FIXTURES / "bad")
    assert _ours(reports, "failed_checks") == EXPECTED
    assert _ours(reports, "passed_checks") == set()
    findings = _harness().checkov_findings(reports)
    assert any("CKV_AGENTOPS_6" in finding and "shared key" in finding for finding in findings)


def test_a_parameter_is_read_through_its_default_and_an_unresolved_one_fails(
    checkov: Path,
) -> None:
    _, reports = _scan(checkov, FIXTURES / "expression")
    assert _ours(reports, "passed_checks") == {("CKV_AGENTOPS_5", VAULT)}
    assert _ours(reports, "failed_checks") == {("CKV_AGENTOPS_4", VAULT)}


def test_a_file_checkov_cannot_parse_fails_the_harness(checkov: Path) -> None:
    output, reports = _scan(checkov, FIXTURES / "unparsable")
    assert json.loads(output)["summary"]["failed"] == 0  # checkov itself sees nothing wrong
    findings = _harness().checkov_findings(reports)
    assert len(findings) == 1
    assert findings[0].startswith("bicep: could not parse")
    assert findings[0].endswith("broken.bicep")


HPA = """
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: app}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: app}
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: %s, averageUtilization: 70}}
"""


@pytest.mark.parametrize(("spelling", "refused"), [("Utilization", False), ("Utilisation", True)])
def test_the_guides_hpa_spelling_is_refused_as_the_api_server_would(
    tmp_path: Path, spelling: str, refused: bool
) -> None:
    manifest = tmp_path / "hpa.yaml"
    manifest.write_text(HPA % spelling)
    findings = _harness().validate_with_our_schemas(manifest, set())
    assert bool(findings) is refused
    if refused:
        assert "'Utilisation' is not one of" in findings[0]


def test_a_custom_resource_without_a_schema_of_ours_is_a_finding(tmp_path: Path) -> None:
    manifest = tmp_path / "crd.yaml"
    manifest.write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    findings = _harness().validate_with_our_schemas(manifest, {("Widget", "example.com/v1")})
    assert findings and "no schema" in findings[0]


def test_a_misspelt_scaledobject_field_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "scaledobject.yaml"
    manifest.write_text(
        "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: app}\n"
        "spec:\n  scaleTargetRef: {name: app}\n  pollingIntervall: 15\n"
        "  triggers: [{type: cpu, metricType: Utilization, metadata: {value: '70'}}]\n"
    )
    findings = _harness().validate_with_our_schemas(manifest, set())
    assert len(findings) == 1 and "pollingIntervall" in findings[0]


def test_an_hpa_and_a_scaledobject_on_one_deployment_are_refused(tmp_path: Path) -> None:
    scaledobject = (
        "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: app}\n"
        "spec: {scaleTargetRef: {name: app}, triggers: [{type: cpu, metadata: {value: '70'}}]}\n"
    )
    manifest = tmp_path / "both.yaml"
    manifest.write_text(HPA % "Utilization" + "---\n" + scaledobject)
    findings = _harness().competing_autoscalers(manifest)
    assert len(findings) == 1 and "HorizontalPodAutoscaler/app and ScaledObject/app" in findings[0]
    manifest.write_text(HPA % "Utilization")
    assert _harness().competing_autoscalers(manifest) == []
