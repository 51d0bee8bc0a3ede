"""The TTL cache in front of Key Vault: rotation, shared fetches, outages, and silence about
values. Time moves only when a test moves the clock."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agentops.secrets import CachedSecrets, KeyVaultSecrets, SecretUnavailable
from tests.agentops.secrets.conftest import Clock
from tests.keyvault_standin import KeyVaultStandIn

TTL = 300.0
GRACE = 600.0


@pytest.fixture
def cached(vault: KeyVaultSecrets, clock: Clock) -> CachedSecrets:
    return CachedSecrets(vault, ttl_s=TTL, grace_s=GRACE, clock=clock)


async def _value(cached: CachedSecrets, name: str) -> str | None:
    value = await cached.get(name)
    return None if value is None else value.get_secret_value()


async def test_a_rotated_version_is_read_after_the_ttl(
    standin: KeyVaultStandIn, cached: CachedSecrets, clock: Clock
) -> None:
    standin.set_secret("model-api-key", "sk-first")
    assert await _value(cached, "MODEL_API_KEY") == "sk-first"

    standin.set_secret("model-api-key", "sk-rotated")
    clock.advance(TTL - 1)
    assert await _value(cached, "MODEL_API_KEY") == "sk-first"  # still fresh: no request
    assert standin.fetches("model-api-key") == 1

    clock.advance(1)
    assert await _value(cached, "MODEL_API_KEY") == "sk-rotated"
    assert standin.fetches("model-api-key") == 2


async def test_concurrent_readers_share_one_fetch(
    standin: KeyVaultStandIn, cached: CachedSecrets, clock: Clock
) -> None:
    standin.set_secret("cache-encryption-key", "k1")
    values = await asyncio.gather(*(cached.get("CACHE_ENCRYPTION_KEY") for _ in range(20)))
    assert {v.get_secret_value() for v in values if v is not None} == {"k1"}
    assert standin.fetches("cache-encryption-key") == 1

    standin.set_secret("cache-encryption-key", "k2")
    clock.advance(TTL)
    values = await asyncio.gather(*(cached.get("CACHE_ENCRYPTION_KEY") for _ in range(20)))
    assert {v.get_secret_value() for v in values if v is not None} == {"k2"}
    assert standin.fetches("cache-encryption-key") == 2


async def test_a_cancelled_reader_does_not_cancel_the_shared_fetch(
    standin: KeyVaultStandIn, cached: CachedSecrets
) -> None:
    standin.set_secret("cosmos-key", "c1")
    first = asyncio.create_task(cached.get("COSMOS_KEY"))
    second = asyncio.create_task(cached.get("COSMOS_KEY"))
    await asyncio.sleep(0)  # both are waiting on the one fetch
    first.cancel()
    value = await second
    assert value is not None and value.get_secret_value() == "c1"


async def test_a_missing_secret_is_cached_as_none_until_the_ttl(
    standin: KeyVaultStandIn, cached: CachedSecrets, clock: Clock
) -> None:
    assert await cached.get("BACKUP_ENCRYPTION_KEY") is None
    standin.set_secret("backup-encryption-key", "b1")
    assert await cached.get("BACKUP_ENCRYPTION_KEY") is None
    clock.advance(TTL)
    assert await _value(cached, "BACKUP_ENCRYPTION_KEY") == "b1"


async def test_an_outage_serves_the_last_good_value_within_the_grace_period(
    standin: KeyVaultStandIn,
    cached: CachedSecrets,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    standin.set_secret("model-api-key", "sk-last-good")
    assert await _value(cached, "MODEL_API_KEY") == "sk-last-good"
    await standin.stop()

    clock.advance(TTL)
    with caplog.at_level(logging.WARNING, logger="agentops.secrets"):
        assert await _value(cached, "MODEL_API_KEY") == "sk-last-good"
    assert "MODEL_API_KEY" in caplog.text
    assert standin.url in caplog.text

    # A secret never read has nothing to fall back on: the error names it and the vault.
    with pytest.raises(SecretUnavailable) as raised:
        await cached.get("DATA_ENCRYPTION_KEYS")
    assert "DATA_ENCRYPTION_KEYS" in str(raised.value)
    assert standin.url in str(raised.value)

    clock.advance(GRACE)  # read TTL + GRACE ago: the last moment it may still be served
    assert await _value(cached, "MODEL_API_KEY") == "sk-last-good"
    clock.advance(1)
    with pytest.raises(SecretUnavailable, match="grace period"):
        await cached.get("MODEL_API_KEY")

    # The vault is back: the next read recovers.
    await standin.start()
    clock.advance(TTL)
    assert await _value(cached, "MODEL_API_KEY") == "sk-last-good"


async def test_during_an_outage_the_vault_is_asked_again_only_now_and_then(
    standin: KeyVaultStandIn, cached: CachedSecrets, clock: Clock
) -> None:
    standin.set_secret("model-api-key", "sk")
    await cached.get("MODEL_API_KEY")
    await standin.stop()
    clock.advance(TTL)
    await cached.get("MODEL_API_KEY")  # fails, serves the last good value
    await standin.start()
    standin.set_secret("model-api-key", "sk-new")
    clock.advance(29)
    assert await _value(cached, "MODEL_API_KEY") == "sk"  # within the outage retry interval
    clock.advance(1)
    assert await _value(cached, "MODEL_API_KEY") == "sk-new"


async def test_no_secret_value_reaches_the_log(
    standin: KeyVaultStandIn,
    cached: CachedSecrets,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    values = ["sk-value-one-4f1c", "sk-value-two-9b2e"]
    caplog.set_level(logging.DEBUG)  # every logger, the Azure SDK's HTTP logging included
    standin.set_secret("model-api-key", values[0])
    got = await cached.get("MODEL_API_KEY")
    standin.set_secret("model-api-key", values[1])
    clock.advance(TTL)
    await cached.get("MODEL_API_KEY")
    await standin.stop()
    clock.advance(TTL)
    await cached.get("MODEL_API_KEY")
    logging.getLogger("tests").info("read %s, %r", got, got)

    assert "new version" in caplog.text  # the rotation was logged, by version
    for value in values:
        assert value not in caplog.text
    assert "standin-token" not in caplog.text


async def test_bad_arguments(vault: KeyVaultSecrets) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        CachedSecrets(vault, ttl_s=0)
    with pytest.raises(ValueError, match="grace_s"):
        CachedSecrets(vault, grace_s=-1)
