"""Agent Framework's record of the tools a run offered, built once per tool list.

For its evaluation tooling, ``Agent.run`` keeps each function tool offered on each model call as
``{"description", "input_schema"}`` in the response's ``additional_properties`` (key
``agent_framework.evaluation``). It builds that record on every call by serialising every tool's
JSON schema to a fresh copy and, from the second call on, comparing it with the previous call's
by serialising both again: about 0.3 ms of CPU for an item of an agent with ten tools and two
calls (bench/agent_run_cost.py), against 5 us here.

An agent's tools here are built once per process (``AgentRunner``), so a tool's schema cannot
change between calls. ``ToolRecordOnce`` is a chat client layer, placed outermost, that builds
each tool list's definitions once, with Agent Framework's own function, and adds them to each
run's record as Agent Framework's merge would: the same names in the same order with equal
values, ``schema_changed`` only where Agent Framework would set it (a name whose schema differs
between calls falls back to its own comparison). What is shared between runs is the definitions'
dictionaries, which nothing here writes to.

The record reaches the client as ``functools.partial(_capture_evaluation_tools, record)`` under a
private keyword of ``client_kwargs``; anything else found there (a new Agent Framework version)
is left as it is, so such an upgrade costs CPU, never correctness, and the tests of this module
fail so that it is noticed.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from agent_framework._types import (
    _capture_evaluation_tools,
    _merge_evaluation_tool_definition,
)

CAPTURE_KEY = "_evaluation_tool_capture"
# Distinct tool lists remembered per client; beyond it (tools passed per run), each call builds
# its definitions as Agent Framework does.
_MAX_TOOL_LISTS = 64

Definitions = dict[str, dict[str, Any]]


def run_record(capture: object) -> Definitions | None:
    """The run's record behind Agent Framework's capture callable, or None if it is not one."""
    if (
        isinstance(capture, partial)
        and capture.func is _capture_evaluation_tools
        and len(capture.args) == 1
        and not capture.keywords
        and isinstance(capture.args[0], dict)
    ):
        return capture.args[0]
    return None


class ToolRecordOnce:
    """Chat client layer: each tool list's evaluation definitions built once per client."""

    def get_response(self, *args: Any, client_kwargs: Any = None, **kwargs: Any) -> Any:
        if client_kwargs:
            record = run_record(client_kwargs.get(CAPTURE_KEY))
            if record is not None:
                capture = partial(self._record_tools, record)
                client_kwargs = {**client_kwargs, CAPTURE_KEY: capture}
        return super().get_response(*args, client_kwargs=client_kwargs, **kwargs)  # type: ignore[misc]

    def _record_tools(self, record: Definitions, tools: Any) -> None:
        known: dict[tuple[Any, ...], Definitions] = self.__dict__.setdefault("_tool_records", {})
        key = tuple(tools) if isinstance(tools, list | tuple) else None
        definitions = known.get(key) if key is not None else None
        if definitions is None:
            if key is None or len(known) >= _MAX_TOOL_LISTS:
                _capture_evaluation_tools(record, tools)
                return
            definitions = {}
            _capture_evaluation_tools(definitions, tools)
            known[key] = definitions
        for name, definition in definitions.items():
            previous = record.get(name)
            if previous is None or (
                previous.get("input_schema") is definition["input_schema"]
                and "schema_changed" not in previous
            ):
                # What Agent Framework's merge gives for a first call, or for the same schema
                # again: a copy of the definition.
                record[name] = dict(definition)
            else:
                record[name] = _merge_evaluation_tool_definition(previous, definition)
