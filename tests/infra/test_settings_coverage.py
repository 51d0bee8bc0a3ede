"""The settings cross-check: every app setting the code reads is set by the Bicep or listed as
left to its default with a reason, is in local.settings.example.json, and is in docs/deploy.md;
and every setting the Bicep sets is read by something (no typo goes unnoticed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.infra.bicep import BicepFile
from tests.infra.deployment import INFRA, MAIN, ROOT
from tests.infra.settings_coverage import (
    LEFT_TO_DEFAULT,
    bicep_settings,
    coverage_problems,
    settings_read,
)

LOCAL_SETTINGS = ROOT / "local.settings.example.json"
DOCS = ROOT / "docs" / "deploy.md"


def _set_by_bicep(main: Path = MAIN) -> set[str]:
    return bicep_settings(
        BicepFile.parse(main), BicepFile.parse(INFRA / "modules" / "functionapp.bicep")
    )


def test_the_reader_finds_each_kind_of_setting() -> None:
    read = {n for names in settings_read() for n in names}
    assert {"BATCH_SIZE", "KEY_VAULT_URL", "AZURE_KEY_VAULT_ENDPOINT"} <= read  # Settings
    assert "BACKUP_ENCRYPTION_KEY" in read  # the secret provider's names
    assert {"TASKHUB_NAME", "BACKUP_SCHEDULE", "COMPLIANCE_REPORT_SCHEDULE"} <= read  # bindings
    assert {"OTEL_SDK_DISABLED", "OTEL_LOGS_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} <= read


def test_every_setting_is_set_or_left_to_its_default_sampled_and_documented() -> None:
    assert coverage_problems(settings_read(), _set_by_bicep(), LOCAL_SETTINGS, DOCS) == []


def test_every_default_left_has_a_reason() -> None:
    assert all(reason.strip() for reason in LEFT_TO_DEFAULT.values())


def test_a_setting_the_code_reads_but_nobody_sets_is_reported(tmp_path: Path) -> None:
    read = [*settings_read(), ("NEW_KNOB",)]
    problems = coverage_problems(read, _set_by_bicep(), LOCAL_SETTINGS, DOCS)
    assert problems == [
        "NEW_KNOB: neither set by the Bicep nor listed as left to its default",
        "NEW_KNOB: not in local.settings.example.json",
        "NEW_KNOB: not in deploy.md",
    ]


def test_a_setting_dropped_from_the_bicep_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "infra"
    shutil.copytree(INFRA, folder)
    main = folder / "main.bicep"
    main.write_text(main.read_text().replace("  BATCH_SIZE: string(batchSize)\n", "", 1))
    problems = coverage_problems(settings_read(), _set_by_bicep(main), LOCAL_SETTINGS, DOCS)
    assert problems == ["BATCH_SIZE: neither set by the Bicep nor listed as left to its default"]


def test_a_typo_in_the_bicep_is_reported() -> None:
    set_by_bicep = _set_by_bicep() | {"BATCH_SIZ"}
    problems = coverage_problems(settings_read(), set_by_bicep, LOCAL_SETTINGS, DOCS)
    assert problems == ["BATCH_SIZ: set by the Bicep but read by nothing (a typo?)"]


def test_a_setting_missing_from_the_sample_is_reported(tmp_path: Path) -> None:
    doc = json.loads(LOCAL_SETTINGS.read_text())
    del doc["Values"]["CHUNK_SIZE"]
    sample = tmp_path / "local.settings.example.json"
    sample.write_text(json.dumps(doc))
    problems = coverage_problems(settings_read(), _set_by_bicep(), sample, DOCS)
    assert problems == ["CHUNK_SIZE: not in local.settings.example.json"]
