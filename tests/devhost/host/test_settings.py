"""devhost's own flags and environment defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from devhost.settings import parse_settings


def test_defaults_serve_the_current_directory_like_func_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = parse_settings([], {})
    assert settings.script_root == tmp_path.resolve()
    assert (settings.host, settings.port, settings.simulator_port) == ("127.0.0.1", 7071, 7072)
    assert settings.data_dir == tmp_path.resolve() / ".devhost"
    assert settings.time_skipping is False


def test_flags_win_over_environment(tmp_path: Path) -> None:
    environ = {
        "DEVHOST_PORT": "9000",
        "DEVHOST_SIMULATOR_PORT": "9001",
        "DEVHOST_TIME_SKIPPING": "1",
    }
    settings = parse_settings(
        ["--script-root", str(tmp_path), "--port", "8000", "--data-dir", str(tmp_path / "d")],
        environ,
    )
    assert settings.port == 8000
    assert settings.simulator_port == 9001
    assert settings.time_skipping is True
    assert settings.data_dir == (tmp_path / "d").resolve()


@pytest.mark.parametrize(
    "argv", [["--port", "70000"], ["--port", "x"], ["--script-root", "/no/such/dir"]]
)
def test_bad_flags_exit_with_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        parse_settings(argv, {})
    assert raised.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_bad_environment_value_is_named() -> None:
    with pytest.raises(ValueError, match="DEVHOST_PORT"):
        parse_settings([], {"DEVHOST_PORT": "seventy"})
