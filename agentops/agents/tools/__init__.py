"""Python functions that agents may call, registered by the name ``agents.yaml`` uses.

Each tool is a typed function with a docstring: Agent Framework turns the signature into the JSON
schema the model sees and validates the model's arguments against it before the call. A tool that
cannot act on its arguments raises ``ToolArgumentError``.

Each is a pure function of its arguments, a few microseconds of computation with no I/O: tools run
on the event loop (``agentops.agents.strict_tools``), and batch mode replays them
(``agentops.agents.batch_rounds``). A tool that waits on anything must be a coroutine function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from agentops.agents.tools.arithmetic import add, divide, multiply, subtract
from agentops.agents.tools.dates import add_days, days_between, weekday
from agentops.agents.tools.errors import ToolArgumentError
from agentops.agents.tools.units import convert_length, convert_mass, convert_temperature

ToolFunction = Callable[..., Any]

BUILTIN_TOOLS: Mapping[str, ToolFunction] = MappingProxyType(
    {
        function.__name__: function
        for function in (
            add,
            subtract,
            multiply,
            divide,
            convert_length,
            convert_mass,
            convert_temperature,
            days_between,
            weekday,
            add_days,
        )
    }
)

__all__ = ["BUILTIN_TOOLS", "ToolArgumentError", "ToolFunction"]
