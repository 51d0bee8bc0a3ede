"""Readiness against real components: SQLite, the local blob folder, Azure Blob Storage's client,
the Key Vault stand-in and the model simulator, each stopped in turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from agentops.bootstrap import Services, build_services, open_secrets, open_services
from agentops.health import ReadinessProbe, ReadinessReport
from agentops.settings import Settings
from devhost.simulator.config import SimulatorConfig
from devhost.simulator.server import RunningSimulator, serve_in_background
from devhost.testing import free_port
from tests.keyvault_standin import FixedTokenCredential, client_options, start_standin

TIMEOUT_S = 1.0
# Azurite's published development account key: public, and here pointed at a closed port.
_DEV_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with serve_in_background(SimulatorConfig()) as running:
        yield running


def _settings(tmp_path: Path, model_endpoint: str, **overrides: Any) -> Settings:
    return Settings(
        store="sqlite",
        sqlite_path=tmp_path / "a.db",
        blob_root=tmp_path / "blobs",
        model_endpoint=model_endpoint,
        **overrides,
    )


async def _check(services: Services, **probe: Any) -> ReadinessReport:
    async def load() -> Services:
        return services

    return await ReadinessProbe(load, timeout_s=TIMEOUT_S, cache_s=2.0, **probe).check()


async def test_ready_when_every_component_answers(tmp_path: Path, sim: RunningSimulator) -> None:
    services = build_services(_settings(tmp_path, sim.url))
    try:
        report = await _check(services)
    finally:
        await services.aclose()
    assert report.ready and report.failed == []
    assert dict(report.checks) == {"store": "ok", "blobs": "ok", "secrets": "ok", "model": "ok"}


async def test_an_unreachable_model_endpoint_is_named(tmp_path: Path) -> None:
    services = build_services(_settings(tmp_path, f"http://127.0.0.1:{free_port()}/v1"))
    try:
        report = await _check(services)
    finally:
        await services.aclose()
    assert not report.ready
    assert report.failed == ["model"]
    assert report.checks["model"] == "unreachable"


async def test_a_stopped_store_is_named(tmp_path: Path, sim: RunningSimulator) -> None:
    services = build_services(_settings(tmp_path, sim.url))
    await services.store.close()
    try:
        report = await _check(services)
    finally:
        await services.aclose()
    assert report.failed == ["store"]
    assert " " not in report.checks["store"]  # an error type's name, never its message


async def test_unreachable_blob_storage_is_named_without_its_connection_string(
    tmp_path: Path, sim: RunningSimulator
) -> None:
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={_DEV_KEY};BlobEndpoint=http://127.0.0.1:{free_port()}/devstoreaccount1;"
    )
    services = build_services(
        _settings(tmp_path, sim.url, blob_store="azure", blob_connection_string=connection)
    )
    try:
        report = await _check(services)
    finally:
        await services.aclose()
    assert report.failed == ["blobs"]
    assert report.checks["blobs"] in {"unreachable", "timed out"}
    assert _DEV_KEY not in repr(report)


async def test_a_stopped_key_vault_is_named(tmp_path: Path, sim: RunningSimulator) -> None:
    standin = await start_standin(tmp_path)
    # The model key in app settings, so that only the secrets check needs the vault.
    settings = _settings(
        tmp_path, sim.url, key_vault_url=standin.url, model_api_key=SecretStr("sk-local")
    )
    secrets = open_secrets(
        settings, credential=FixedTokenCredential(), **{**client_options(standin), "retry_total": 0}
    )
    services = await open_services(settings, secrets)
    await standin.stop()  # secrets read at start-up stay cached; the others cannot be read
    try:
        report = await _check(services)
    finally:
        await services.aclose()
    assert report.failed == ["secrets"]
    assert report.checks["secrets"] == "SecretUnavailable"
    assert standin.url not in repr(report)


async def test_breaker_states_are_reported_and_do_not_fail_readiness(
    tmp_path: Path, sim: RunningSimulator
) -> None:
    services = build_services(
        _settings(tmp_path, sim.url, breaker_failure_threshold=1, breaker_min_calls=1)
    )
    services.breakers.get("gpt-4o-mini").on_failure()
    try:
        report = await _check(services)
    finally:
        await services.aclose()
    assert report.ready
    assert dict(report.breakers) == {"gpt-4o-mini": "open"}


class _Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_probes_share_one_round_and_reuse_it_for_cache_s(
    tmp_path: Path, sim: RunningSimulator
) -> None:
    services = build_services(_settings(tmp_path, sim.url))
    rounds = 0

    async def load() -> Services:
        nonlocal rounds
        rounds += 1
        await asyncio.sleep(0.05)  # a round in progress while the others arrive
        return services

    clock = _Clock()
    probe = ReadinessProbe(load, timeout_s=TIMEOUT_S, cache_s=2.0, clock=clock)
    try:
        reports = await asyncio.gather(*(probe.check() for _ in range(20)))
        assert rounds == 1 and all(report.ready for report in reports)
        clock.now += 1.9
        await probe.check()
        assert rounds == 1
        clock.now += 0.2
        await probe.check()
        assert rounds == 2
    finally:
        await services.aclose()


async def test_services_that_cannot_be_built_fail_readiness_by_error_type() -> None:
    async def load() -> Services:
        raise ValueError("MODEL_API_KEY=sk-secret is required")

    probe: Callable[[], Awaitable[ReadinessReport]] = ReadinessProbe(
        load, timeout_s=TIMEOUT_S, cache_s=2.0
    ).check
    report = await probe()
    assert dict(report.checks) == {"services": "ValueError"}
    assert "sk-secret" not in repr(report)
