"""Start-up: settings files, host.json, and the clear errors for apps that cannot be served."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from devhost.testing import devhost_command, devhost_environment, refused_start, start_devhost

from .conftest import APPS, HTTP_APP


def _run(app: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        devhost_command(app, "--port", "0", "--simulator-port", "0"),
        env=devhost_environment(env),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_import_error_names_file_line_and_error() -> None:
    result = _run(APPS / "broken_import")
    assert result.returncode == 1
    script = APPS / "broken_import" / "function_app.py"
    assert f'File "{script}", line 8' in result.stderr
    assert "KeyError: 'endpoint'" in result.stderr
    assert "Traceback" not in result.stderr  # no raw host stack trace
    assert "loader.py" not in result.stderr


def test_error_in_an_imported_module_points_into_that_module() -> None:
    result = _run(APPS / "broken_helper")
    assert result.returncode == 1
    assert f'File "{APPS / "broken_helper" / "helpers" / "config.py"}", line 5' in result.stderr
    assert "ValueError: invalid literal for int()" in result.stderr


def test_bad_schedule_names_function_and_schedule() -> None:
    result = _run(APPS / "broken_schedule")
    assert result.returncode == 1
    assert "'five_fields'" in result.stderr
    assert "'0 */5 * * *'" in result.stderr


def test_bad_schedule_from_a_setting_names_both() -> None:
    result = _run(APPS / "broken_setting", {"REPORT_SCHEDULE": "0 61 * * * *"})
    assert result.returncode == 1
    assert "'nightly_report'" in result.stderr
    assert "'0 61 * * * *' (from '%REPORT_SCHEDULE%')" in result.stderr


def test_schedule_setting_that_is_not_set_is_an_error() -> None:
    env = devhost_environment()
    env.pop("REPORT_SCHEDULE", None)
    result = subprocess.run(
        devhost_command(APPS / "broken_setting", "--port", "0", "--simulator-port", "0"),
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "%REPORT_SCHEDULE%" in result.stderr
    assert "not set" in result.stderr


def test_missing_function_app_is_an_error(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.returncode == 1
    assert "function_app.py" in result.stderr


def _copy_app(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    shutil.copytree(HTTP_APP, app, ignore=shutil.ignore_patterns("__pycache__"))
    return app


def test_local_settings_fill_the_environment_without_overriding(tmp_path: Path) -> None:
    app = _copy_app(tmp_path)
    values = {
        "FROM_LOCAL": "local value",
        "OVERRIDDEN": "from file",
        "EVERY_SECOND": "0 0 0 1 1 *",
        "TIMER_MARKER_DIR": str(tmp_path),
    }
    (app / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    with start_devhost(app, env={"OVERRIDDEN": "from environment"}) as devhost:
        with httpx.Client(base_url=devhost.base_url) as client:
            assert client.get("/api/settings/FROM_LOCAL").json()["value"] == "local value"
            assert client.get("/api/settings/OVERRIDDEN").json()["value"] == "from environment"
        status = httpx.get(devhost.url("/admin/host/status"), headers=devhost.master_headers)
        schedules = {f["name"]: f.get("schedule") for f in status.json()["functions"]}
        assert schedules["every_second"] == "0 0 0 1 1 *"


def test_malformed_local_settings_is_an_error(tmp_path: Path) -> None:
    app = _copy_app(tmp_path)
    (app / "local.settings.json").write_text("{ not json")
    result = _run(app)
    assert result.returncode == 1
    assert "local.settings.json" in result.stderr


def test_route_prefix_from_host_json(tmp_path: Path) -> None:
    app = _copy_app(tmp_path)
    (app / "host.json").write_text(
        json.dumps({"version": "2.0", "extensions": {"http": {"routePrefix": "v2"}}})
    )
    env = {"EVERY_SECOND": "0 0 0 1 1 *", "TIMER_MARKER_DIR": str(tmp_path)}
    with start_devhost(app, env=env) as devhost:
        assert httpx.get(devhost.url("/v2/items/a")).text == "item a"
        assert httpx.get(devhost.url("/api/items/a")).status_code == 404


def test_sigterm_stops_gracefully(tmp_path: Path) -> None:
    env = {"EVERY_SECOND": "0 0 0 1 1 *", "TIMER_MARKER_DIR": str(tmp_path)}
    with start_devhost(HTTP_APP, env=env) as devhost:
        assert devhost.process is not None
        devhost.process.send_signal(signal.SIGINT)
        assert devhost.process.wait(timeout=10) == 0
        devhost.wait_for_output("devhost stopped")


@pytest.mark.slow
def test_restart_keeps_url_and_keys(tmp_path: Path) -> None:
    env = {"EVERY_SECOND": "0 0 0 1 1 *", "TIMER_MARKER_DIR": str(tmp_path)}
    with start_devhost(HTTP_APP, env=env) as devhost:
        url = devhost.base_url
        devhost.kill()
        assert not devhost.running
        devhost.restart()
        assert devhost.base_url == url
        response = httpx.get(devhost.url("/api/keyed"), headers=devhost.function_headers)
        assert response.status_code == 200


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            devhost_command(APPS / "http_asgi", "--port", str(port), "--simulator-port", "0"),
            env=devhost_environment(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def _run_on(app: Path, data_dir: Path, env: dict[str, str] | None = None) -> str:
    """Start `app` on `data_dir` expecting it to refuse; its error output."""
    return refused_start(app, data_dir, devhost_environment(env))


def test_a_keys_file_open_to_others_stops_devhost(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"master": "m" * 20}))
    keys.chmod(0o644)
    stderr = _run_on(APPS / "http_asgi", tmp_path)
    assert f"{keys} is open to group or others (mode 0644)" in stderr
    assert "Traceback" not in stderr


def test_a_malformed_keys_file_stops_devhost(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text("{ not json")
    keys.chmod(0o600)
    stderr = _run_on(APPS / "http_asgi", tmp_path)
    assert f"{keys} is malformed" in stderr


def test_a_bad_durable_key_setting_stops_devhost(tmp_path: Path) -> None:
    stderr = _run_on(APPS / "http_asgi", tmp_path, {"DEVHOST_DURABLE_KEY": "too short"})
    assert "DEVHOST_DURABLE_KEY must be at least 16 printable characters" in stderr


def test_banner_names_keys_from_settings_and_prints_generated_ones(tmp_path: Path) -> None:
    env = {"EVERY_SECOND": "0 0 0 1 1 *", "TIMER_MARKER_DIR": str(tmp_path)}
    with start_devhost(HTTP_APP, env=env) as devhost:
        assert "Durable system key: (from DEVHOST_DURABLE_KEY)" in devhost.output
        assert devhost.durable_key not in devhost.output
    with start_devhost(HTTP_APP, env=env, data_dir=tmp_path, generate_keys=True) as devhost:
        assert f"Durable system key: {devhost.durable_key}\n" in devhost.output
        stored = json.loads((tmp_path / "keys.json").read_text())
        assert stored["durable_system"] == devhost.durable_key
        assert stored["master"] == devhost.master_key != devhost.durable_key


def test_website_hostname_is_kept_when_already_set(tmp_path: Path) -> None:
    env = {
        "EVERY_SECOND": "0 0 0 1 1 *",
        "TIMER_MARKER_DIR": str(tmp_path),
        "WEBSITE_HOSTNAME": "agentops.example.net",
    }
    with start_devhost(HTTP_APP, env=env) as devhost:
        value = httpx.get(devhost.url("/api/settings/WEBSITE_HOSTNAME")).json()["value"]
        assert value == "agentops.example.net"
