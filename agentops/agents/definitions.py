"""The agent definitions in ``agents.yaml``: schema, loading and the version digest.

An invalid file fails start-up with one line per problem, each naming the agent and the field::

    agents.yaml: agent 'calc': tools[1]: unknown tool 'foo' (known: add, divide, ...)
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agentops.agents.tools import ToolFunction

AGENT_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
MAX_CACHE_TTL_S = 30 * 24 * 3600
MAX_OUTPUT_TOKENS = 128_000

_BATCH_FIELDS = ("batch_allowed", "batch_deployment")

NonEmpty = Annotated[str, Field(min_length=1)]


class AgentConfigError(ValueError):
    """``agents.yaml`` cannot be used; the message names the file, the agent and the field."""


class AgentDefinition(BaseModel):
    """One agent as declared in ``agents.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: Annotated[str, Field(pattern=AGENT_NAME_PATTERN)]
    description: Annotated[str, Field(min_length=1, max_length=500)]
    instructions: NonEmpty
    deployment: Annotated[str, Field(min_length=1, max_length=128)]
    tools: tuple[str, ...] = ()
    temperature: Annotated[float | None, Field(ge=0.0, le=2.0)] = None
    max_output_tokens: Annotated[int, Field(ge=1, le=MAX_OUTPUT_TOKENS)] = 1024
    # Rounds of tool calls one item may make before it must answer; more fail the item.
    max_tool_rounds: Annotated[int, Field(ge=1, le=32)] = 8
    # Output tokens of one item over all its model calls; omitted: twice max_output_tokens, one
    # full answer and as much again for the tool-call turns, which are short JSON.
    max_total_output_tokens: Annotated[int | None, Field(ge=1, le=2 * MAX_OUTPUT_TOKENS)] = None
    cache_ttl_s: Annotated[int, Field(ge=0, le=MAX_CACHE_TTL_S)] = 0
    sensitive: bool = False
    # Runs may ask for batch mode (the provider's Batch API, at its batch price) only when true.
    batch_allowed: bool = False
    # The Global Batch deployment that takes this agent's batch files; omitted: `deployment`
    # (an OpenAI endpoint takes batches for any model it serves).
    batch_deployment: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    # Set by the loader from the definition and its tools' code; never written in the file.
    tool_digest: Annotated[str, Field(exclude=True, repr=False)] = ""

    @field_validator("tools")
    @classmethod
    def _known_unique_tools(cls, tools: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        known: Mapping[str, ToolFunction] = (info.context or {}).get("tools", {})
        seen: set[str] = set()
        for index, name in enumerate(tools):
            if name not in known:
                raise _ItemError(
                    index, f"unknown tool '{name}' (known: {', '.join(sorted(known)) or 'none'})"
                )
            if name in seen:
                raise _ItemError(index, f"tool '{name}' is listed twice")
            seen.add(name)
        return tools

    @model_validator(mode="after")
    def _total_covers_one_answer(self) -> Self:
        total = self.max_total_output_tokens
        if total is not None and total < self.max_output_tokens:
            raise ValueError(
                f"max_total_output_tokens ({total}) must be at least "
                f"max_output_tokens ({self.max_output_tokens})"
            )
        return self

    @model_validator(mode="after")
    def _batch_not_sensitive(self) -> Self:
        # Batch files and round answers are kept in plain text (at the provider and in blobs).
        if self.batch_allowed and self.sensitive:
            raise ValueError("batch_allowed: a sensitive agent's texts are never sent in batches")
        return self

    @property
    def batch_target(self) -> str:
        """The deployment batch files name in their requests' ``model``."""
        return self.batch_deployment or self.deployment

    @property
    def total_output_tokens(self) -> int:
        """The output tokens one item may spend over all its model calls."""
        return self.max_total_output_tokens or 2 * self.max_output_tokens

    @cached_property
    def version(self) -> str:
        """A digest of everything that shapes an answer: a changed agent gets a new version."""
        payload = self.model_dump(mode="json")
        # Batch settings at their defaults leave the digest as it was before they existed, so
        # adding them did not make every cached answer stale.
        for key in _BATCH_FIELDS:
            if payload[key] is None or payload[key] is False:
                del payload[key]
        payload["tool_digest"] = self.tool_digest
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class AgentsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    agents: Annotated[list[AgentDefinition], Field(min_length=1)]


def load_agents(path: Path, tools: Mapping[str, ToolFunction]) -> tuple[AgentDefinition, ...]:
    """Read and validate ``path``; raise ``AgentConfigError`` naming every problem."""
    label = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AgentConfigError(f"{label}: cannot read the file: {exc.strerror or exc}") from exc
    return parse_agents(text, tools, label=label)


def parse_agents(
    text: str, tools: Mapping[str, ToolFunction], *, label: str = "agents.yaml"
) -> tuple[AgentDefinition, ...]:
    """Validate the YAML ``text`` of an agents file; ``label`` names it in error messages."""
    try:
        # A SafeLoader subclass: plain data only, never arbitrary Python objects.
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise AgentConfigError(f"{label}: not valid YAML: {_yaml_problem(exc)}") from exc
    if not isinstance(data, dict):
        raise AgentConfigError(f"{label}: expected a mapping with an 'agents' list at the top")
    try:
        parsed = AgentsFile.model_validate(data, context={"tools": tools})
    except ValidationError as exc:
        problems = [f"{label}: {_describe(error, data)}" for error in exc.errors(include_url=False)]
        raise AgentConfigError("\n".join(problems)) from exc

    names: set[str] = set()
    for agent in parsed.agents:
        if agent.name in names:
            raise AgentConfigError(f"{label}: agent '{agent.name}': name: declared twice")
        names.add(agent.name)
    digest = {
        name: _tool_digest(name, tools[name]) for agent in parsed.agents for name in agent.tools
    }
    return tuple(
        agent.model_copy(update={"tool_digest": "|".join(digest[name] for name in agent.tools)})
        for agent in parsed.agents
    )


class _ItemError(ValueError):
    """A problem with one element of a list field, so the message can say ``tools[1]``."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"[{index}]: {message}")


def _describe(error: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """``agent 'calc': tools[1]: unknown tool 'foo' (...)`` from one pydantic error."""
    loc = list(error["loc"])
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    if loc[:1] != ["agents"] or len(loc) < 2 or not isinstance(loc[1], int):
        where = ".".join(str(part) for part in loc) or "file"
        return f"{where}: {_plain(error, message)}"
    index = loc[1]
    agents = data.get("agents")
    raw = agents[index] if isinstance(agents, list) and index < len(agents) else None
    name = raw.get("name") if isinstance(raw, dict) else None
    who = f"agent '{name}'" if isinstance(name, str) and name else f"agent #{index + 1}"
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc[2:])
    field = field.removeprefix(".")
    if message.startswith("[") and "]: " in message:
        # An _ItemError: move the index onto the field name.
        item, _, message = message.partition(": ")
        field += item
    if not field:
        return f"{who}: {_plain(error, message)}"
    return f"{who}: {field}: {_plain(error, message)}"


def _plain(error: Mapping[str, Any], message: str) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "required field is missing"
    return message


def _tool_digest(name: str, function: ToolFunction) -> str:
    """The tool's code, so that editing a tool also changes the versions of agents using it."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        source = f"{getattr(function, '__module__', '')}.{getattr(function, '__qualname__', name)}"
    return f"{name}:{hashlib.sha256(source.encode()).hexdigest()[:16]}"


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice instead of keeping the last one silently."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)
