"""Exact-enough arithmetic on two numbers: no expression parsing, so nothing to evaluate."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field

from agentops.agents.tools.errors import ToolArgumentError

Number = Annotated[float, Field(allow_inf_nan=False)]

# Integers above this are not exact as floats; keep them as floats rather than pretend.
_EXACT_INT_LIMIT = 2**53


def _tidy(value: float) -> int | float:
    """``5`` rather than ``5.0`` when the result is a whole number, so answers read naturally."""
    if not math.isfinite(value):
        raise ToolArgumentError("the result is too large to represent")
    if value.is_integer() and abs(value) < _EXACT_INT_LIMIT:
        return int(value)
    return value


def add(
    a: Annotated[Number, Field(description="first addend")],
    b: Annotated[Number, Field(description="second addend")],
) -> int | float:
    """Add two numbers and return a + b."""
    return _tidy(a + b)


def subtract(
    a: Annotated[Number, Field(description="the number to subtract from")],
    b: Annotated[Number, Field(description="the number to subtract")],
) -> int | float:
    """Subtract b from a and return a - b."""
    return _tidy(a - b)


def multiply(
    a: Annotated[Number, Field(description="first factor")],
    b: Annotated[Number, Field(description="second factor")],
) -> int | float:
    """Multiply two numbers and return a * b."""
    return _tidy(a * b)


def divide(
    a: Annotated[Number, Field(description="the dividend")],
    b: Annotated[Number, Field(description="the divisor, not zero")],
) -> int | float:
    """Divide a by b and return a / b."""
    if b == 0:
        raise ToolArgumentError("division by zero")
    return _tidy(a / b)
