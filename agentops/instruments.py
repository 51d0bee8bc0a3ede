"""Every metric the app emits, as data: name, kind, unit and the attributes it may carry.

The instruments are created from these specs (`agentops.telemetry` meters), and the portal's
alerts and workbook queries (infra/monitoring) are tested against them, so a renamed metric
cannot leave a dashboard silently empty. The first ten are the production guide's, with its
exact names; the rest are what an operator of batch runs needs beyond them.

Attributes are of low cardinality only: agent and deployment names come from agents.yaml, tenant
appears only where a tenant's spend or refusals are the point, and never a query, a run id, a
thread id or a user id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

type InstrumentKind = Literal["counter", "histogram", "up_down_counter", "gauge"]


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    name: str
    kind: InstrumentKind
    unit: str
    description: str
    attributes: frozenset[str]


def _spec(
    name: str, kind: InstrumentKind, unit: str, description: str, *attributes: str
) -> InstrumentSpec:
    return InstrumentSpec(name, kind, unit, description, frozenset(attributes))


# The production guide's ten.
# HTTP: the route template (never the path), the method, the status code and its class
# (outcome: success, client_error, server_error); agent only when the route names a known one.
_HTTP = ("http.route", "http.request.method", "http.response.status_code", "outcome", "agent")
REQUESTS = _spec("agent.requests.total", "counter", "{request}", "HTTP requests", *_HTTP)
REQUEST_DURATION = _spec(
    "agent.request.duration", "histogram", "ms", "HTTP request duration", *_HTTP
)
ERRORS = _spec(
    "agent.errors.total",
    "counter",
    "{error}",
    "errors by class: HTTP answers of 400 and above (with http.route), failed items (without)",
    "agent",
    "error.type",
    "http.route",
)
CREATED = _spec(
    "agent.created.total", "counter", "{agent}", "Agent Framework agents constructed", "agent"
)
EXECUTED = _spec(
    "agent.executed.total",
    "counter",
    "{run}",
    "agent runs: each item attempt or question that reached the agent, by outcome",
    "agent",
    "outcome",
)
TOOLS_INVOKED = _spec(
    "agent.tools.invoked.total", "counter", "{call}", "tool calls", "agent", "tool", "outcome"
)
TOOL_DURATION = _spec(
    "agent.tool.duration", "histogram", "ms", "tool call duration", "agent", "tool"
)
MEMORY_OPERATIONS = _spec(
    "agent.memory.operations.total",
    "counter",
    "{operation}",
    "conversation thread reads and writes",
    "agent",
    "operation",
)
LLM_CALLS = _spec(
    "agent.llm.calls.total",
    "counter",
    "{call}",
    "model calls (one per agent run attempt) by deployment and outcome: ok, throttled,"
    " transient, permanent, cancelled, error",
    "agent",
    "deployment",
    "outcome",
)
TOKENS_USED = _spec(
    "agent.tokens.used",
    "counter",
    "{token}",
    "tokens by type (input, output)",
    "agent",
    "deployment",
    "token.type",
)

# Beyond the guide: batch items, resilience, spend and maintenance.
ITEMS_FINISHED = _spec(
    "agentops.items.finished",
    "counter",
    "{item}",
    "items moved from pending to completed or failed, failed ones by reason",
    "agent",
    "deployment",
    "outcome",
    "reason",
)
ITEM_RETRIES = _spec(
    "agentops.items.retries",
    "counter",
    "{attempt}",
    "items sent back to the orchestrator for a later attempt, by reason",
    "agent",
    "reason",
)
ITEM_DEFERRALS = _spec(
    "agentops.items.deferrals",
    "counter",
    "{item}",
    "items put back for later (open breaker, rate limit, budget)",
    "agent",
    "reason",
)
RUNS_FINISHED = _spec(
    "agentops.runs.finished",
    "counter",
    "{run}",
    "batch runs finished, by status",
    "agent",
    "status",
)
BREAKER_STATE = _spec(
    "agentops.breaker.state",
    "gauge",
    "1",
    "circuit state: 0 closed, 1 half open, 2 open",
    "deployment",
)
BREAKER_TRANSITIONS = _spec(
    "agentops.breaker.transitions",
    "counter",
    "{transition}",
    "circuit breaker state changes",
    "deployment",
    "state",
)
BREAKER_REJECTIONS = _spec(
    "agentops.breaker.rejections",
    "counter",
    "{call}",
    "calls refused while a breaker was open",
    "deployment",
)
LIMITER_WAIT = _spec(
    "agentops.limiter.wait",
    "histogram",
    "ms",
    "time a model call waited for rate-limit capacity (only calls that waited)",
    "deployment",
)
BUDGET_REFUSALS = _spec(
    "agentops.budget.refusals",
    "counter",
    "{refusal}",
    "work refused by a spent budget (items and run starts); scope: tenant or agent",
    "tenant",
    "agent",
    "scope",
)
CACHE_LOOKUPS = _spec(
    "agentops.cache.lookups",
    "counter",
    "{lookup}",
    "response cache lookups by outcome: hit, miss, error, own (an item's own answer, billed)",
    "agent",
    "outcome",
)
CACHE_SAVED_COST = _spec(
    "agentops.cache.saved_cost",
    "counter",
    "USD",
    "cost of the model calls cache hits avoided",
    "agent",
)
COST = _spec(
    "agentops.cost",
    "counter",
    "USD",
    "model spend as priced when it was incurred",
    "tenant",
    "agent",
    "deployment",
)
MAINTENANCE = _spec(
    "agentops.maintenance.runs",
    "counter",
    "{run}",
    "backups, restores, prunes and reports finished or failed, by kind and outcome",
    "kind",
    "outcome",
)

INSTRUMENTS: tuple[InstrumentSpec, ...] = (
    REQUESTS,
    REQUEST_DURATION,
    ERRORS,
    CREATED,
    EXECUTED,
    TOOLS_INVOKED,
    TOOL_DURATION,
    MEMORY_OPERATIONS,
    LLM_CALLS,
    TOKENS_USED,
    ITEMS_FINISHED,
    ITEM_RETRIES,
    ITEM_DEFERRALS,
    RUNS_FINISHED,
    BREAKER_STATE,
    BREAKER_TRANSITIONS,
    BREAKER_REJECTIONS,
    LIMITER_WAIT,
    BUDGET_REFUSALS,
    CACHE_LOOKUPS,
    CACHE_SAVED_COST,
    COST,
    MAINTENANCE,
)
BY_NAME: dict[str, InstrumentSpec] = {spec.name: spec for spec in INSTRUMENTS}


def markdown_table(specs: tuple[InstrumentSpec, ...] = INSTRUMENTS) -> str:
    """The registry as the README's metric table (`python -m agentops.instruments` prints it)."""
    rows = [
        "| metric | kind | unit | attributes | what it counts |",
        "|---|---|---|---|---|",
    ]
    for spec in specs:
        attributes = ", ".join(f"`{name}`" for name in sorted(spec.attributes)) or "none"
        rows.append(
            f"| `{spec.name}` | {spec.kind} | `{spec.unit}` | {attributes} | {spec.description} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
