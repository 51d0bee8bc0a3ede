"""Unit conversion for length, mass and temperature."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field

from agentops.agents.tools.errors import ToolArgumentError

LengthUnit = Literal["mm", "cm", "m", "km", "in", "ft", "yd", "mi"]
MassUnit = Literal["mg", "g", "kg", "t", "oz", "lb", "st"]
TemperatureUnit = Literal["C", "F", "K"]

# Exact definitions: the international yard and pound (1959).
_METRES: dict[str, float] = {
    "mm": 0.001,
    "cm": 0.01,
    "m": 1.0,
    "km": 1000.0,
    "in": 0.0254,
    "ft": 0.3048,
    "yd": 0.9144,
    "mi": 1609.344,
}
_KILOGRAMS: dict[str, float] = {
    "mg": 1e-6,
    "g": 0.001,
    "kg": 1.0,
    "t": 1000.0,
    "oz": 0.028349523125,
    "lb": 0.45359237,
    "st": 6.35029318,
}
_DIGITS = 10

Value = Annotated[float, Field(allow_inf_nan=False, description="the quantity to convert")]


def _round(value: float) -> float:
    """Drop the floating-point noise of the factors (0.30480000000000002 ft)."""
    if not math.isfinite(value):
        raise ToolArgumentError("the result is too large to represent")
    return round(value, _DIGITS)


def convert_length(value: Value, from_unit: LengthUnit, to_unit: LengthUnit) -> float:
    """Convert a length between mm, cm, m, km, in, ft, yd and mi."""
    return _round(value * _METRES[from_unit] / _METRES[to_unit])


def convert_mass(value: Value, from_unit: MassUnit, to_unit: MassUnit) -> float:
    """Convert a mass between mg, g, kg, t (tonne), oz, lb and st (stone)."""
    if value < 0:
        raise ToolArgumentError("a mass cannot be negative")
    return _round(value * _KILOGRAMS[from_unit] / _KILOGRAMS[to_unit])


def convert_temperature(
    value: Value, from_unit: TemperatureUnit, to_unit: TemperatureUnit
) -> float:
    """Convert a temperature between C (Celsius), F (Fahrenheit) and K (Kelvin)."""
    kelvin = {"C": value + 273.15, "F": (value - 32.0) * 5.0 / 9.0 + 273.15, "K": value}[from_unit]
    if kelvin < 0:
        raise ToolArgumentError("the temperature is below absolute zero")
    converted = {"C": kelvin - 273.15, "F": (kelvin - 273.15) * 9.0 / 5.0 + 32.0, "K": kelvin}[
        to_unit
    ]
    return _round(converted)
