"""The agents the app knows: look one up, list them, turn a query into a ``ModelRequest``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentops.agents.definitions import AgentDefinition, load_agents
from agentops.agents.tools import BUILTIN_TOOLS, ToolFunction
from agentops.model.types import ChatMessage, ModelRequest

HISTORY_ROLES = frozenset({"user", "assistant"})


class UnknownAgentError(KeyError):
    """No agent has this name (the HTTP layer answers 404)."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = tuple(sorted(known))

    def __str__(self) -> str:
        return f"unknown agent '{self.name}' (known: {', '.join(self.known) or 'none'})"


@dataclass(frozen=True, slots=True)
class AgentSummary:
    """What a caller may see about an agent; the instructions stay private."""

    name: str
    description: str
    deployment: str
    tools: tuple[str, ...]
    sensitive: bool
    version: str


class AgentRegistry:
    """The validated agent definitions and the tool functions they name."""

    def __init__(
        self,
        definitions: Sequence[AgentDefinition],
        tools: Mapping[str, ToolFunction] = BUILTIN_TOOLS,
    ) -> None:
        by_name: dict[str, AgentDefinition] = {}
        for definition in definitions:
            if definition.name in by_name:
                raise ValueError(f"agent '{definition.name}' is defined twice")
            missing = [name for name in definition.tools if name not in tools]
            if missing:
                raise ValueError(f"agent '{definition.name}': unknown tools {missing}")
            by_name[definition.name] = definition
        self._agents = by_name
        self._tools = dict(tools)

    @classmethod
    def from_yaml(
        cls, path: Path, tools: Mapping[str, ToolFunction] = BUILTIN_TOOLS
    ) -> AgentRegistry:
        """Load ``agents.yaml``; raises ``AgentConfigError`` naming the agent and field."""
        return cls(load_agents(path, tools), tools)

    def get(self, name: str) -> AgentDefinition:
        try:
            return self._agents[name]
        except KeyError:
            raise UnknownAgentError(name, self._agents) from None

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def list(self) -> list[AgentSummary]:
        return [
            AgentSummary(
                name=agent.name,
                description=agent.description,
                deployment=agent.deployment,
                tools=agent.tools,
                sensitive=agent.sensitive,
                version=agent.version,
            )
            for agent in sorted(self._agents.values(), key=lambda agent: agent.name)
        ]

    def tool_functions(self, name: str) -> list[ToolFunction]:
        """The Python functions behind the agent's tools, in declaration order."""
        return [self._tools[tool] for tool in self.get(name).tools]

    def request_for(
        self,
        agent_name: str,
        tenant: str,
        query: str,
        history: Sequence[ChatMessage] = (),
    ) -> ModelRequest:
        """Everything the model path needs to answer ``query`` for ``tenant`` with this agent."""
        agent = self.get(agent_name)
        if not tenant.strip():
            raise ValueError("tenant must not be empty")
        if not query.strip():
            raise ValueError("query must not be empty")
        for index, message in enumerate(history):
            if message.role not in HISTORY_ROLES:
                raise ValueError(
                    f"history[{index}].role must be one of {sorted(HISTORY_ROLES)}, "
                    f"not '{message.role}'"
                )
        return ModelRequest(
            tenant=tenant,
            agent=agent.name,
            agent_version=agent.version,
            deployment=agent.deployment,
            tools=agent.tools,
            query=query,
            max_output_tokens=agent.max_output_tokens,
            cache_ttl_s=agent.cache_ttl_s,
            sensitive=agent.sensitive,
            history=tuple(history),
        )
