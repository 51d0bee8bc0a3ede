"""`options.mode` and `options.fallback`: what callers may ask, and which agents take batch mode."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from agentops.agents.definitions import parse_agents
from agentops.agents.tools import BUILTIN_TOOLS
from agentops.auth import LOCAL_PRINCIPAL
from agentops.bootstrap import Services, build_services
from agentops.runs.contracts import RunSpec
from agentops.runs.errors import BatchModeRefusedError
from agentops.runs.requests import RunOptions, RunRequest
from agentops.settings import Settings
from triggers.edge import problem_for

AGENTS = """
agents:
  - name: plain
    description: Interactive only.
    instructions: Be brief.
    deployment: gpt-4o-mini
  - name: halfprice
    description: Takes batch runs.
    instructions: Be brief.
    deployment: gpt-4o-mini
    batch_allowed: true
    batch_deployment: gpt-4o-mini-batch
"""


def test_mode_defaults_to_interactive_and_takes_batch() -> None:
    assert RunOptions().run_mode == "interactive"
    assert RunOptions().model_dump(exclude_none=True) == {}
    batch = RunOptions.model_validate({"mode": "batch", "fallback": True})
    assert (batch.run_mode, batch.fallback) == ("batch", True)


@pytest.mark.parametrize(
    "options",
    [
        {"mode": "offline"},
        {"mode": "BATCH"},
        {"mode": 1},
        {"fallback": True},  # without batch mode it means nothing: refused, not ignored
        {"mode": "interactive", "fallback": True},
        {"mode": "batch", "fallback": "yes"},
    ],
)
def test_bad_modes_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RunOptions.model_validate(options)


def test_batch_fields_of_a_definition() -> None:
    plain, halfprice = parse_agents(AGENTS, BUILTIN_TOOLS)
    assert (plain.batch_allowed, plain.batch_target) == (False, "gpt-4o-mini")
    assert (halfprice.batch_allowed, halfprice.batch_target) == (True, "gpt-4o-mini-batch")


def test_a_sensitive_agent_cannot_allow_batch_mode() -> None:
    from agentops.agents.definitions import AgentConfigError

    text = AGENTS.replace(
        "    batch_allowed: true\n", "    batch_allowed: true\n    sensitive: true\n"
    )
    with pytest.raises(AgentConfigError, match="agent 'halfprice': batch_allowed"):
        parse_agents(text, BUILTIN_TOOLS)


def test_batch_fields_at_their_defaults_keep_the_version() -> None:
    base = AGENTS.split("  - name: halfprice")[0]
    (before,) = parse_agents(base, BUILTIN_TOOLS)
    explicit = base + "    batch_allowed: false\n"
    assert parse_agents(explicit, BUILTIN_TOOLS)[0].version == before.version
    allowed = base + "    batch_allowed: true\n"
    assert parse_agents(allowed, BUILTIN_TOOLS)[0].version != before.version


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    agents = tmp_path / "agents.yaml"
    agents.write_text(AGENTS, encoding="utf-8")
    built = build_services(
        Settings(store="sqlite", sqlite_path=tmp_path / "agentops.db", agents_file=agents)
    )
    yield built
    await built.aclose()


async def test_batch_mode_is_refused_for_an_agent_that_does_not_allow_it(
    services: Services,
) -> None:
    request = RunRequest.model_validate({"queries": ["q"], "options": {"mode": "batch"}})
    with pytest.raises(BatchModeRefusedError) as refused:
        await services.runs.create(LOCAL_PRINCIPAL, "plain", request)
    response = problem_for(refused.value)
    assert response.status_code == 409
    assert json.loads(response.body)["type"].endswith("batch-not-allowed")


async def test_a_batch_run_carries_its_mode_to_the_orchestration(services: Services) -> None:
    request = RunRequest.model_validate(
        {"queries": ["q"], "options": {"mode": "batch", "fallback": True}}
    )
    run = await services.runs.create(LOCAL_PRINCIPAL, "halfprice", request)
    assert run.options == {"mode": "batch", "fallback": True}
    spec = RunSpec.model_validate(services.runs.spec_for(run))
    assert (spec.mode, spec.fallback) == ("batch", True)
    interactive = await services.runs.create(
        LOCAL_PRINCIPAL, "plain", RunRequest.model_validate({"queries": ["q"]})
    )
    spec = RunSpec.model_validate(services.runs.spec_for(interactive))
    assert (spec.mode, spec.fallback) == ("interactive", False)


def test_a_spec_from_before_batch_mode_replays_as_interactive() -> None:
    old = {
        "run_id": "r",
        "tenant": "t",
        "agent": "a",
        "start": 0,
        "end": 1,
        "batch_size": 1,
        "max_in_flight": 1,
        "chunk_size": 1,
        "max_attempts": 1,
        "retry_base_s": 1,
        "retry_max_s": 1,
    }
    assert RunSpec.model_validate(old).mode == "interactive"


def test_the_openapi_document_describes_the_mode() -> None:
    from triggers.openapi import openapi_document

    document = json.loads(openapi_document("http://127.0.0.1:7071"))
    options = document["components"]["schemas"]["RunOptions"]["properties"]
    assert json.dumps(options["mode"]).count('"batch"') == 1
    assert "interactive" in json.dumps(options["mode"])
    assert "boolean" in json.dumps(options["fallback"])
    schema = document["components"]["schemas"]["RunOptions"]
    assert schema["then"]["properties"]["mode"] == {"const": "batch"}
    start = document["paths"]["/api/agents/{agent}/runs"]["post"]["responses"]
    assert "409" in start


def test_the_cli_sends_the_mode() -> None:
    from agentops.cli.main import _parser

    args = _parser().parse_args(["run", "calculator", "--file", "q.jsonl", "--mode", "batch"])
    assert (args.mode, args.fallback) == ("batch", None)
    args = _parser().parse_args(
        ["run", "calculator", "--file", "q.jsonl", "--mode", "batch", "--fallback"]
    )
    assert args.fallback is True
    with pytest.raises(SystemExit):
        _parser().parse_args(["run", "calculator", "--file", "q.jsonl", "--mode", "later"])
