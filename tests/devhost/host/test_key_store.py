"""Keys kept in the data directory: owner-only, reused, settings first, bad files refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from devhost.auth import (
    DURABLE_KEY_SETTING,
    FUNCTION_KEY_SETTING,
    MASTER_KEY_SETTING,
    AuthLevel,
    Keys,
)
from devhost.key_store import KEYS_FILE, KeyStoreError, load_keys

SET_MASTER = "m" * 20


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_generated_keys_are_stored_owner_only_and_reused(tmp_path: Path) -> None:
    first = load_keys(tmp_path, {})
    assert len({first.master, first.function, first.durable_system}) == 3
    assert _mode(tmp_path / KEYS_FILE) == 0o600
    assert load_keys(tmp_path, {}) == first
    assert [p.name for p in tmp_path.iterdir()] == [KEYS_FILE]  # no temporary file left


def test_a_new_data_directory_is_owner_only(tmp_path: Path) -> None:
    load_keys(tmp_path / "data", {})
    assert _mode(tmp_path / "data") == 0o700


def test_settings_win_and_are_not_written(tmp_path: Path) -> None:
    stored = load_keys(tmp_path, {})
    keys = load_keys(tmp_path, {MASTER_KEY_SETTING: SET_MASTER})
    assert keys.master == SET_MASTER
    assert keys.from_settings == {"master"}
    assert (keys.function, keys.durable_system) == (stored.function, stored.durable_system)
    written = json.loads((tmp_path / KEYS_FILE).read_text())
    assert SET_MASTER not in written.values()
    # Without the setting, the key generated earlier comes back.
    assert load_keys(tmp_path, {}).master == stored.master


def test_only_settings_write_nothing(tmp_path: Path) -> None:
    environ = {
        MASTER_KEY_SETTING: SET_MASTER,
        FUNCTION_KEY_SETTING: "f" * 20,
        DURABLE_KEY_SETTING: "d" * 20,
    }
    keys = load_keys(tmp_path, environ)
    assert keys.durable_system == "d" * 20
    assert not (tmp_path / KEYS_FILE).exists()


def test_a_missing_key_is_added_to_an_older_file(tmp_path: Path) -> None:
    path = tmp_path / KEYS_FILE
    path.write_text(json.dumps({"master": "a" * 20, "function": "b" * 20}))
    path.chmod(0o600)
    keys = load_keys(tmp_path, {})
    assert (keys.master, keys.function) == ("a" * 20, "b" * 20)
    assert json.loads(path.read_text())["durable_system"] == keys.durable_system
    assert _mode(path) == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    load_keys(tmp_path, {})
    (tmp_path / KEYS_FILE).chmod(mode)
    with pytest.raises(KeyStoreError, match=f"group or others \\(mode {mode:04o}\\)"):
        load_keys(tmp_path, {})


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        json.dumps({"master": "short"}),
        json.dumps({"master": 12345678901234567890}),
        json.dumps({"master": "has a space in it ok"}),
        json.dumps({"masterkey": "m" * 20}),
    ],
)
def test_a_malformed_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / KEYS_FILE
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyStoreError, match="malformed"):
        load_keys(tmp_path, {})
    assert path.read_text() == content  # left for the user to look at


def test_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text("{}")
    target.chmod(0o600)
    (tmp_path / KEYS_FILE).symlink_to(target)
    with pytest.raises(KeyStoreError, match="cannot open"):
        load_keys(tmp_path, {})


def test_a_bad_setting_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=DURABLE_KEY_SETTING):
        load_keys(tmp_path, {DURABLE_KEY_SETTING: "short"})


def test_the_system_key_opens_the_durable_api_only() -> None:
    keys = Keys.resolve({})
    assert keys.opens_durable_api(keys.durable_system)
    assert keys.opens_durable_api(keys.master)
    assert not keys.opens_durable_api(keys.function)
    assert not keys.opens_durable_api(None)
    assert not keys.is_master(keys.durable_system)
    assert not keys.authorizes(AuthLevel.ADMIN, keys.durable_system)


def test_keys_never_show_in_repr() -> None:
    keys = Keys.resolve({})
    for value in (keys.master, keys.function, keys.durable_system):
        assert value not in repr(keys)


def test_umask_does_not_widen_the_file(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        load_keys(tmp_path, {})
    finally:
        os.umask(previous)
    assert _mode(tmp_path / KEYS_FILE) == 0o600
