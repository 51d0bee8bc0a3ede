"""Tools whose arguments are checked strictly before the function runs.

Agent Framework's ``tool(function)`` builds the arguments model from the signature in pydantic's
lax mode: ``"2"`` passes for a number, ``true`` for an integer, ``2.0`` for an integer, and an
argument the function does not have is dropped without a word. A model that sends those is
confused, and an answer built on its guess is not one to keep. So the arguments model here is built
from the same signature in strict mode, with unknown arguments forbidden (the JSON schema the model
sees then says ``"additionalProperties": false``). JSON's own types are kept: an integer is a JSON
integer, a number may be an integer or a fraction, a string is a string; a type that JSON has no
literal for (a date) says how it reads its text on its annotation (see ``tools.dates.IsoDate``).
"""

from __future__ import annotations

import inspect
import typing
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
    """``function`` as an Agent Framework tool that validates its arguments strictly."""
    return tool(function, schema=arguments_model(function))
