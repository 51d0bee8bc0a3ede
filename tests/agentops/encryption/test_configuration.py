"""Start-up checks of DATA_ENCRYPTION_KEYS: a malformed value fails at indexing; none is allowed
(the keys may come from a secret store later; a sensitive agent is then refused per request)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentops.bootstrap import check_configuration
from agentops.settings import get_settings


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_malformed_key_setting_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", '{"active": "k1", "keys": {}}')
    with pytest.raises(ValueError, match="DATA_ENCRYPTION_KEYS: the active key 'k1'"):
        check_configuration()


def test_no_key_setting_does_not_fail_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATA_ENCRYPTION_KEYS", raising=False)
    check_configuration()
