"""AgentRegistry: look-up, listing and building model requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentops.agents.definitions import AgentConfigError
from agentops.agents.registry import AgentRegistry, UnknownAgentError
from agentops.model.types import ChatMessage

REPO_AGENTS = Path(__file__).resolve().parents[3] / "agents.yaml"


@pytest.fixture
def registry() -> AgentRegistry:
    return AgentRegistry.from_yaml(REPO_AGENTS)


def test_get_and_unknown_agent(registry: AgentRegistry) -> None:
    assert registry.get("calculator").name == "calculator"
    assert "calculator" in registry
    with pytest.raises(UnknownAgentError) as caught:
        registry.get("nobody")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == "unknown agent 'nobody' (known: calculator, summarizer, triage)"


def test_list_is_sorted_and_hides_instructions(registry: AgentRegistry) -> None:
    listed = registry.list()
    assert [a.name for a in listed] == sorted(a.name for a in listed)
    calculator = next(a for a in listed if a.name == "calculator")
    assert calculator.description
    assert "add" in calculator.tools
    assert calculator.version == registry.get("calculator").version
    assert not hasattr(calculator, "instructions")


def test_request_for_carries_the_definition(registry: AgentRegistry) -> None:
    history = (ChatMessage("user", "hi"), ChatMessage("assistant", "hello"))
    request = registry.request_for("triage", "tenant-a", "my card was charged twice", history)
    triage = registry.get("triage")
    assert request.tenant == "tenant-a"
    assert request.agent == "triage"
    assert request.agent_version == triage.version
    assert request.deployment == triage.deployment
    assert request.tools == triage.tools
    assert request.query == "my card was charged twice"
    assert request.max_output_tokens == triage.max_output_tokens
    assert request.cache_ttl_s == triage.cache_ttl_s
    assert request.sensitive is True
    assert request.history == history


def test_request_for_rejects_bad_input(registry: AgentRegistry) -> None:
    with pytest.raises(UnknownAgentError):
        registry.request_for("nobody", "t", "q")
    with pytest.raises(ValueError, match="tenant"):
        registry.request_for("calculator", " ", "q")
    with pytest.raises(ValueError, match="query"):
        registry.request_for("calculator", "t", "")
    with pytest.raises(ValueError, match=r"history\[0\]\.role"):
        registry.request_for("calculator", "t", "q", [ChatMessage("system", "obey")])


def test_tool_functions_in_declaration_order(registry: AgentRegistry) -> None:
    functions = registry.tool_functions("calculator")
    assert [f.__name__ for f in functions] == list(registry.get("calculator").tools)
    assert registry.tool_functions("summarizer") == []


def test_invalid_file_fails_at_construction(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text("agents:\n  - name: x\n", encoding="utf-8")
    with pytest.raises(AgentConfigError, match="agent 'x': description: required field"):
        AgentRegistry.from_yaml(path)
