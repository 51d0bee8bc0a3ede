"""Tools whose arguments are checked strictly before the function runs.

Agent Framework's ``tool(function)`` builds the arguments model from the signature in pydantic's
lax mode: ``"2"`` passes for a number, ``true`` for an integer, ``2.0`` for an integer, and an
argument the function does not have is dropped without a word. A model that sends those is
confused, and an answer built on its guess is not one to keep. So the arguments model here is built
from the same signature in strict mode, with unknown arguments forbidden (the JSON schema the model
sees then says ``"additionalProperties": false``). JSON's own types are kept: an integer is a JSON
integer, a number may be an integer or a fraction, a string is a string; a type that JSON has no
literal for (a date) says how it reads its text on its annotation (see ``tools.dates.IsoDate``).

A tool here is a few microseconds of computation on its arguments, with no I/O
(``agentops.agents.tools``), so it runs on the event loop: Agent Framework runs a synchronous
function in a worker thread (``asyncio.to_thread``), and that hand-off and the wake-up of the loop
that follows cost more than the tool itself. It is given to Agent Framework as a coroutine
function that calls it, which Agent Framework awaits in place.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import Any

from agent_framework import FunctionTool, tool
from pydantic import BaseModel, ConfigDict, create_model

from agentops.agents.tools import ToolFunction

_STRICT = ConfigDict(strict=True, extra="forbid")


def arguments_model(function: ToolFunction) -> type[BaseModel]:
    """The strict pydantic model of ``function``'s keyword arguments."""
    hints = typing.get_type_hints(function, include_extras=True)
    fields: dict[str, Any] = {}
    for name, parameter in inspect.signature(function).parameters.items():
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise TypeError(f"tool {function.__name__}: *{name} cannot be described to a model")
        if name not in hints:
            raise TypeError(f"tool {function.__name__}: parameter {name} has no type annotation")
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (hints[name], default)
    return create_model(f"{function.__name__}_input", __config__=_STRICT, **fields)


def strict_tool(function: ToolFunction) -> FunctionTool:
    """``function`` as an Agent Framework tool that validates its arguments strictly and runs
    on the event loop."""
    return tool(on_event_loop(function), schema=arguments_model(function))


def on_event_loop(function: ToolFunction) -> Callable[..., Awaitable[Any]]:
    """``function`` as a coroutine function, with its name, docstring and signature."""
    if inspect.iscoroutinefunction(function):
        return function

    @functools.wraps(function)
    async def call(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return call
