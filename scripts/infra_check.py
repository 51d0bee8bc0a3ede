"""The offline infrastructure checks, run by scripts/infra-check.sh with the tools' own venv.

Each step prints what it checked and every finding; the exit status is 1 when any step found
something. What offline tools cannot check (a Bicep compile, a deployment's what-if, an image
build, a cluster's admission) is written down in docs/containers.md, not pretended here.

- checkov over the Bicep, the Dockerfile and the rendered Kubernetes overlays, with our policies
  from infra/checks. Its exit status is not trusted: a file it cannot parse is skipped while it
  still exits 0, so its JSON is read and any parsing error or failed check fails the step, as
  does a skip without a reason.
- kubernetes-validate --strict on each rendered overlay; custom resources it has no schema for
  (KEDA's) are validated against our schemas in infra/k8s/schemas instead, never let through,
  and a Deployment scaled by both an HPA and a KEDA ScaledObject is refused.
- hadolint on each Dockerfile; check-jsonschema on azure.yaml against infra/azure.schema.json.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
CHECKS_DIR = INFRA / "checks"
OVERLAYS = INFRA / "k8s" / "overlays"
CRD_SCHEMAS = INFRA / "k8s" / "schemas"
AZURE_YAML_SCHEMA = INFRA / "azure.schema.json"
KUBERNETES_VERSION = "1.33.0"  # the oldest AKS minor in standard support when this was written

_NO_SCHEMA = re.compile(r"Couldn't find schema for kind (\S+) with api version (\S+)")


@dataclass
class Step:
    name: str
    checked: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    def report(self) -> bool:
        status = "FAILED" if self.findings else "ok"
        print(f"[{status}] {self.name}")
        for checked in self.checked:
            print(f"    {checked}")
        for finding in self.findings:
            print(f"    {finding}")
        return not self.findings


def _run(command: Sequence[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    # The tools are those of the venv this interpreter belongs to, whatever PATH says.
    tool = Path(sys.executable).parent / str(command[0])
    program = str(tool) if tool.exists() else str(command[0])
    return subprocess.run(
        [program, *(str(part) for part in command[1:])],
        capture_output=True,
        text=True,
        check=False,
        **kwargs,
    )


def _relative(path: str | Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def bicep_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.bicep"))


def dockerfiles(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*Dockerfile*") if not path.name.endswith("ignore"))


def render_overlays(overlays: Path, into: Path) -> tuple[list[Path], Step]:
    """kubectl kustomize each overlay into one file; a render error is a finding."""
    step = Step("kustomize render")
    rendered: list[Path] = []
    for kustomization in sorted(overlays.glob("*/kustomization.yaml")):
        overlay = kustomization.parent
        step.checked.append(_relative(overlay))
        result = _run(["kubectl", "kustomize", overlay])
        if result.returncode != 0:
            step.findings.append(f"{_relative(overlay)}: {result.stderr.strip()}")
            continue
        target = into / f"{overlay.name}.yaml"
        target.write_text(result.stdout)
        rendered.append(target)
    if not step.checked:
        step.findings.append(f"no overlay under {_relative(overlays)}")
    return rendered, step


def _json_values(text: str) -> Iterator[Any]:
    """checkov prints one JSON document per scanned directory, one after the other."""
    decoder = json.JSONDecoder()
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return
        value, index = decoder.raw_decode(text, index)
        yield value


def checkov_reports(output: str) -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = []
    for value in _json_values(output):
        for report in value if isinstance(value, list) else [value]:
            # With nothing a check applies to, checkov prints only a bare summary.
            if "check_type" in report:
                reports.append(report)
    return reports


def checkov_findings(reports: list[dict[str, Any]]) -> list[str]:
    findings: list[str] = []
    for report in reports:
        results = report["results"]
        for path in results.get("parsing_errors", []):
            findings.append(f"{report['check_type']}: could not parse {_relative(path)}")
        for check in results.get("failed_checks", []):
            findings.append(
                f"{check['check_id']} {_relative(check['file_abs_path'])} {check['resource']}: "
                f"{check['check_name']}"
            )
        for check in results.get("skipped_checks", []):
            reason = (check.get("check_result") or {}).get("suppress_comment") or ""
            if not reason.strip() or reason.strip() == "No comment provided":
                findings.append(
                    f"{check['check_id']} {_relative(check['file_abs_path'])} {check['resource']}: "
                    "skipped without a reason"
                )
    return findings


def run_checkov(targets: list[Path], external_checks: Path) -> Step:
    step = Step("checkov (bicep, kubernetes, dockerfile)")
    command: list[str | Path] = []
    for target in targets:
        command += ["-f", target]
    result = _run(
        [
            "checkov",
            *command,
            "--framework",
            "bicep",
            "kubernetes",
            "dockerfile",
            "--external-checks-dir",
            external_checks,
            "--skip-download",
            "--output",
            "json",
            "--compact",
        ]
    )
    step.checked = [_relative(target) for target in targets]
    try:
        reports = checkov_reports(result.stdout)
    except json.JSONDecodeError:
        step.findings.append(f"checkov printed no JSON (exit {result.returncode}):")
        step.findings.append(result.stderr.strip()[-2000:])
        return step
    step.findings = checkov_findings(reports)
    seen = {report["check_type"] for report in reports}
    for framework in ("bicep", "dockerfile", "kubernetes"):
        if framework not in seen:
            step.checked.append(f"{framework}: no resource that any check applies to")
    for report in reports:
        summary = report["summary"]
        step.checked.append(
            f"{report['check_type']}: {summary['resource_count']} resources, "
            f"{summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped"
        )
    if result.returncode not in (0, 1):  # 1: failed checks, already listed
        step.findings.append(f"checkov exited {result.returncode}: {result.stderr.strip()[-2000:]}")
    return step


def _documents(path: Path) -> list[dict[str, Any]]:
    import yaml  # checkov's dependency, in the tools' venv

    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def schema_path(api_version: str, kind: str) -> Path:
    """infra/k8s/schemas/<group>_<version>_<kind>.json, e.g. keda_sh_v1alpha1_scaledobject.json."""
    prefix = re.sub(r"[./]", "_", api_version)
    return CRD_SCHEMAS / f"{prefix}_{kind.lower()}.json"


def validate_with_our_schemas(path: Path, without_schema: set[tuple[str, str]]) -> list[str]:
    """Each document that has a schema of ours is validated against it: custom resources, which
    kubernetes-validate has no schema for (one missing is a finding), and built-in kinds where
    the API server refuses more than the published OpenAPI schema does."""
    import jsonschema  # check-jsonschema's dependency, in the tools' venv

    findings: list[str] = []
    for document in _documents(path):
        kind, api_version = document.get("kind", ""), document.get("apiVersion", "")
        name = f"{kind}/{document.get('metadata', {}).get('name', '?')}"
        schema = schema_path(api_version, kind)
        if not schema.exists():
            if (kind, api_version) in without_schema:
                findings.append(f"{_relative(path)} {name}: no schema ({_relative(schema)})")
            continue
        validator = jsonschema.Draft202012Validator(json.loads(schema.read_text()))
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path)):
            where = "/".join(str(part) for part in error.path) or "(document)"
            findings.append(f"{_relative(path)} {name} {where}: {error.message}")
    return findings


def competing_autoscalers(path: Path) -> list[str]:
    """A Deployment scaled by both an HPA and a KEDA ScaledObject (which makes an HPA of its own):
    the two would fight over the replica count."""
    owners: dict[str, list[str]] = {}
    for document in _documents(path):
        kind = document.get("kind")
        if kind not in {"HorizontalPodAutoscaler", "ScaledObject"}:
            continue
        target = (document.get("spec") or {}).get("scaleTargetRef") or {}
        namespace = document.get("metadata", {}).get("namespace", "")
        key = f"{namespace}/{target.get('kind', 'Deployment')}/{target.get('name', '?')}"
        owners.setdefault(key, []).append(f"{kind}/{document['metadata'].get('name', '?')}")
    return [
        f"{_relative(path)} {target} is scaled by {' and '.join(scalers)}"
        for target, scalers in owners.items()
        if len(scalers) > 1
    ]


def run_kubernetes_validate(rendered: list[Path]) -> Step:
    step = Step(f"kubernetes-validate --strict (Kubernetes {KUBERNETES_VERSION})")
    for path in rendered:
        step.checked.append(_relative(path))
        result = _run(["kubernetes-validate", "--strict", "-k", KUBERNETES_VERSION, path])
        output = (result.stdout + result.stderr).strip()
        missing = {(kind, version) for kind, version in _NO_SCHEMA.findall(output)}
        for line in output.splitlines():
            if line.startswith("INFO") or _NO_SCHEMA.search(line):
                continue
            step.findings.append(line)
        if result.returncode != 0 and not step.findings:
            step.findings.append(f"{_relative(path)}: exit {result.returncode}")
        step.findings += validate_with_our_schemas(path, missing)
        step.findings += competing_autoscalers(path)
    return step


def run_hadolint(files: list[Path]) -> Step:
    step = Step("hadolint")
    for path in files:
        step.checked.append(_relative(path))
        result = _run(["hadolint", "--no-color", path])
        if result.returncode != 0:
            step.findings += (result.stdout + result.stderr).strip().splitlines()
    if not files:
        step.findings.append("no Dockerfile under infra/")
    return step


def run_check_jsonschema(document: Path, schema: Path) -> Step:
    step = Step("check-jsonschema azure.yaml")
    step.checked.append(_relative(document))
    if not document.exists():
        step.findings.append(f"{_relative(document)} does not exist")
        return step
    result = _run(["check-jsonschema", "--schemafile", schema, document])
    if result.returncode != 0:
        step.findings += (result.stdout + result.stderr).strip().splitlines()
    return step


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--infra", type=Path, default=INFRA, help="the folder to check")
    parser.add_argument("--azure-yaml", type=Path, default=ROOT / "azure.yaml")
    args = parser.parse_args(argv)
    infra: Path = args.infra.resolve()

    with tempfile.TemporaryDirectory(prefix="infra-check-") as scratch:
        rendered, render_step = render_overlays(infra / "k8s" / "overlays", Path(scratch))
        steps = [render_step]
        bicep = bicep_files(infra)
        docker = dockerfiles(infra)
        steps.append(run_checkov([*bicep, *docker, *rendered], CHECKS_DIR))
        steps.append(run_kubernetes_validate(rendered))
        steps.append(run_hadolint(docker))
        steps.append(run_check_jsonschema(args.azure_yaml.resolve(), AZURE_YAML_SCHEMA))
        passed = [step.report() for step in steps]
    if not bicep:
        print("note: no .bicep file under infra/; checkov had no Bicep to read")
    return 0 if all(passed) else 1


if __name__ == "__main__":
    sys.exit(main())
