"""agents.yaml: the shipped file, every kind of bad input, and the version digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentops.agents.definitions import AgentConfigError, load_agents, parse_agents
from agentops.agents.tools import BUILTIN_TOOLS

REPO_AGENTS = Path(__file__).resolve().parents[3] / "agents.yaml"

VALID = """
agents:
  - name: calc
    description: Does sums.
    instructions: Use the tools.
    deployment: gpt-4o-mini
    tools: [add, divide]
    temperature: 0
    max_output_tokens: 100
    cache_ttl_s: 60
  - name: notes
    description: Takes notes.
    instructions: Be brief.
    deployment: gpt-4o
    sensitive: true
"""


def _error(text: str) -> str:
    with pytest.raises(AgentConfigError) as caught:
        parse_agents(text, BUILTIN_TOOLS)
    return str(caught.value)


def test_the_shipped_agents_load() -> None:
    agents = {agent.name: agent for agent in load_agents(REPO_AGENTS, BUILTIN_TOOLS)}
    assert len(agents) >= 3
    assert {"calculator", "summarizer", "triage"} <= set(agents)
    assert agents["calculator"].tools, "one sample agent uses real tools"
    assert any(agent.sensitive for agent in agents.values())
    assert len({agent.version for agent in agents.values()}) == len(agents)


def test_valid_file_fields_and_defaults() -> None:
    calc, notes = parse_agents(VALID, BUILTIN_TOOLS)
    assert calc.tools == ("add", "divide")
    assert calc.temperature == 0
    assert calc.max_output_tokens == 100
    assert calc.cache_ttl_s == 60
    assert calc.sensitive is False
    assert notes.temperature is None
    assert notes.max_output_tokens == 1024
    assert notes.cache_ttl_s == 0
    assert notes.sensitive is True
    assert (calc.max_tool_rounds, notes.max_tool_rounds) == (8, 8)
    # The item's output over all its calls: one full answer and as much again for tool turns.
    assert (calc.total_output_tokens, notes.total_output_tokens) == (200, 2048)


def test_tool_rounds_and_total_output_tokens_are_set_per_agent() -> None:
    text = VALID.replace(
        "    cache_ttl_s: 60\n",
        "    cache_ttl_s: 60\n    max_tool_rounds: 3\n    max_total_output_tokens: 150\n",
    )
    calc, _ = parse_agents(text, BUILTIN_TOOLS)
    assert (calc.max_tool_rounds, calc.total_output_tokens) == (3, 150)
    smaller = text.replace("max_total_output_tokens: 150", "max_total_output_tokens: 99")
    assert _error(smaller) == (
        "agents.yaml: agent 'calc': max_total_output_tokens (99) must be at least "
        "max_output_tokens (100)"
    )


def test_unknown_tool_names_agent_field_and_known_tools() -> None:
    message = _error(VALID.replace("[add, divide]", "[add, foo]"))
    assert message.startswith(
        "agents.yaml: agent 'calc': tools[1]: unknown tool 'foo' (known: add,"
    )
    assert "divide" in message


def test_tool_listed_twice() -> None:
    message = _error(VALID.replace("[add, divide]", "[add, add]"))
    assert message == "agents.yaml: agent 'calc': tools[1]: tool 'add' is listed twice"


def test_unknown_field() -> None:
    message = _error(VALID.replace("    temperature: 0\n", "    temprature: 0\n"))
    assert message == "agents.yaml: agent 'calc': temprature: unknown field"


def test_missing_field_names_the_agent_by_position_when_nameless() -> None:
    text = VALID.replace("  - name: notes\n    description", "  - description")
    assert _error(text) == "agents.yaml: agent #2: name: required field is missing"


def test_missing_instructions() -> None:
    text = VALID.replace("    instructions: Be brief.\n", "")
    assert _error(text) == "agents.yaml: agent 'notes': instructions: required field is missing"


@pytest.mark.parametrize(
    ("before", "after", "field"),
    [
        ("temperature: 0", "temperature: 3", "temperature"),
        ("max_output_tokens: 100", "max_output_tokens: 0", "max_output_tokens"),
        ("cache_ttl_s: 60", "cache_ttl_s: -1", "cache_ttl_s"),
        ("cache_ttl_s: 60", "cache_ttl_s: soon", "cache_ttl_s"),
        ("name: calc", "name: Calc Agent", "name"),
        ("cache_ttl_s: 60", "max_tool_rounds: 0", "max_tool_rounds"),
        ("cache_ttl_s: 60", "max_tool_rounds: 33", "max_tool_rounds"),
    ],
)
def test_out_of_range_values(before: str, after: str, field: str) -> None:
    message = _error(VALID.replace(before, after))
    assert message.startswith("agents.yaml: agent '")
    assert f": {field}: " in message


def test_every_problem_is_reported() -> None:
    text = VALID.replace("temperature: 0", "temperature: 9").replace("[add, divide]", "[nope]")
    lines = _error(text).splitlines()
    assert len(lines) == 2
    assert all(line.startswith("agents.yaml: agent 'calc': ") for line in lines)


def test_duplicate_agent_name() -> None:
    assert _error(VALID.replace("name: notes", "name: calc")) == (
        "agents.yaml: agent 'calc': name: declared twice"
    )


def test_duplicate_yaml_key() -> None:
    text = VALID.replace("    temperature: 0\n", "    temperature: 0\n    temperature: 1\n")
    assert "duplicate key 'temperature'" in _error(text)


def test_not_yaml_gives_the_line() -> None:
    message = _error("agents:\n  - name: [unclosed\n")
    assert message.startswith("agents.yaml: not valid YAML: line ")


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "agents: []\n", "agents: {}\n", "other: 1\n"])
def test_wrong_top_level(text: str) -> None:
    assert _error(text).startswith("agents.yaml: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AgentConfigError, match=r"nowhere\.yaml: cannot read the file"):
        load_agents(tmp_path / "nowhere.yaml", BUILTIN_TOOLS)


def test_file_label_is_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "custom-agents.yaml"
    path.write_text(VALID.replace("[add, divide]", "[foo]"), encoding="utf-8")
    with pytest.raises(AgentConfigError, match=r"^custom-agents.yaml: agent 'calc': tools\[0\]"):
        load_agents(path, BUILTIN_TOOLS)


def test_version_is_stable_and_follows_every_field() -> None:
    first = parse_agents(VALID, BUILTIN_TOOLS)
    again = parse_agents(VALID, BUILTIN_TOOLS)
    assert [a.version for a in first] == [a.version for a in again]
    changed = [
        VALID.replace("Use the tools.", "Use the tools carefully."),
        VALID.replace("temperature: 0", "temperature: 0.5"),
        VALID.replace("[add, divide]", "[add]"),
        VALID.replace("deployment: gpt-4o-mini", "deployment: gpt-4.1"),
        VALID.replace("cache_ttl_s: 60", "cache_ttl_s: 61"),
    ]
    for text in changed:
        assert parse_agents(text, BUILTIN_TOOLS)[0].version != first[0].version, text
        assert parse_agents(text, BUILTIN_TOOLS)[1].version == first[1].version


def test_version_follows_the_tool_code() -> None:
    def add(a: float, b: float) -> float:
        """Add, but differently written."""
        return b + a

    tools = {**BUILTIN_TOOLS, "add": add}
    original = parse_agents(VALID, BUILTIN_TOOLS)[0]
    edited = parse_agents(VALID, tools)[0]
    assert original.model_dump() == edited.model_dump()
    assert original.version != edited.version
