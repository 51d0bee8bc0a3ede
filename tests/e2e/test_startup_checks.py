"""A broken deployment fails at start-up, naming what to fix, before it serves anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from devhost.testing import DevhostStartError, start_devhost
from tests.e2e.conftest import PROJECT_ROOT, app_env

pytestmark = pytest.mark.slow

BROKEN_AGENTS = """\
agents:
  - name: calc
    description: Adds numbers.
    instructions: Add them.
    deployment: gpt-4o-mini
    tools: [add, teleport]
    max_output_tokens: 100
"""


def test_an_invalid_agents_yaml_stops_start_up_naming_agent_and_field(tmp_path: Path) -> None:
    agents = tmp_path / "agents.yaml"
    agents.write_text(BROKEN_AGENTS, encoding="utf-8")
    with (
        pytest.raises(DevhostStartError) as failed,
        start_devhost(PROJECT_ROOT, env=app_env(tmp_path, AGENTS_FILE=str(agents))),
    ):
        pass
    message = str(failed.value)
    assert "agent 'calc'" in message and "tools[1]" in message and "teleport" in message
    assert "function_app.py" in message


def test_an_invalid_app_setting_stops_start_up_naming_it(tmp_path: Path) -> None:
    with (
        pytest.raises(DevhostStartError) as failed,
        start_devhost(PROJECT_ROOT, env=app_env(tmp_path, BATCH_SIZE="0")),
    ):
        pass
    assert "BATCH_SIZE" in str(failed.value)


def test_a_telemetry_variable_the_app_cannot_honour_stops_start_up_naming_it(
    tmp_path: Path,
) -> None:
    env = app_env(
        tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_TRACES_EXPORTER="zipkin"
    )
    with pytest.raises(DevhostStartError) as failed, start_devhost(PROJECT_ROOT, env=env):
        pass
    assert "OTEL_TRACES_EXPORTER" in str(failed.value) and "zipkin" in str(failed.value)
