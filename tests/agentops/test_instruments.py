"""The metric registry the instruments and the portal's queries are built from."""

from __future__ import annotations

import re

from agentops.instruments import BY_NAME, INSTRUMENTS

GUIDE = {
    "agent.requests.total",
    "agent.request.duration",
    "agent.errors.total",
    "agent.created.total",
    "agent.executed.total",
    "agent.tools.invoked.total",
    "agent.tool.duration",
    "agent.memory.operations.total",
    "agent.llm.calls.total",
    "agent.tokens.used",
}
HIGH_CARDINALITY = {"run_id", "run.id", "thread_id", "user", "user.id", "principal", "query"}


def test_the_guide_s_ten_are_there_by_their_exact_names() -> None:
    assert set(BY_NAME) >= GUIDE
    assert len(BY_NAME) == len(INSTRUMENTS)  # no name twice


def test_names_units_and_attributes_are_well_formed() -> None:
    for spec in INSTRUMENTS:
        assert re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+", spec.name), spec.name
        assert spec.unit and spec.description
        assert not spec.attributes & HIGH_CARDINALITY, spec.name
    durations = [s for s in INSTRUMENTS if s.name.endswith(("duration", "wait"))]
    assert durations and all(s.kind == "histogram" and s.unit == "ms" for s in durations)
