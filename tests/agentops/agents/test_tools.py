"""The sample tools: correct results, and ToolArgumentError for what they cannot do."""

from __future__ import annotations

from datetime import date

import pytest

from agentops.agents.strict_tools import arguments_model, strict_tool
from agentops.agents.tools import BUILTIN_TOOLS, ToolArgumentError
from agentops.agents.tools.arithmetic import add, divide, multiply, subtract
from agentops.agents.tools.dates import add_days, days_between, weekday
from agentops.agents.tools.units import convert_length, convert_mass, convert_temperature


def test_registry_names_match_functions() -> None:
    assert set(BUILTIN_TOOLS) == {
        "add",
        "subtract",
        "multiply",
        "divide",
        "convert_length",
        "convert_mass",
        "convert_temperature",
        "days_between",
        "weekday",
        "add_days",
    }
    for name, function in BUILTIN_TOOLS.items():
        assert function.__name__ == name
        assert function.__doc__, f"{name} needs a docstring: the model reads it"


def test_arithmetic() -> None:
    assert add(2, 3) == 5
    assert isinstance(add(2, 3), int)
    assert add(0.1, 0.2) == pytest.approx(0.3)
    assert subtract(2, 5) == -3
    assert multiply(19, 23) == 437
    assert divide(7, 2) == 3.5
    assert divide(9, 3) == 3


def test_divide_by_zero_is_an_argument_error() -> None:
    with pytest.raises(ToolArgumentError, match="division by zero"):
        divide(1, 0)


def test_overflow_is_an_argument_error() -> None:
    with pytest.raises(ToolArgumentError):
        multiply(1e308, 1e10)


def test_length() -> None:
    assert convert_length(1, "mi", "km") == pytest.approx(1.609344)
    assert convert_length(12, "in", "ft") == pytest.approx(1.0)
    assert convert_length(1, "ft", "m") == 0.3048


def test_mass() -> None:
    assert convert_mass(1, "lb", "g") == pytest.approx(453.59237)
    assert convert_mass(16, "oz", "lb") == pytest.approx(1.0)
    with pytest.raises(ToolArgumentError):
        convert_mass(-1, "kg", "g")


def test_temperature() -> None:
    assert convert_temperature(100, "C", "F") == pytest.approx(212.0)
    assert convert_temperature(32, "F", "C") == pytest.approx(0.0)
    assert convert_temperature(0, "K", "C") == pytest.approx(-273.15)
    with pytest.raises(ToolArgumentError, match="absolute zero"):
        convert_temperature(-300, "C", "K")


def test_dates() -> None:
    assert days_between(date(2024, 1, 1), date(2024, 3, 1)) == 60  # a leap year
    assert days_between(date(2024, 3, 1), date(2024, 1, 1)) == -60
    assert weekday(date(2024, 1, 1)) == "Monday"
    assert add_days(date(2024, 1, 30), 5) == "2024-02-04"
    assert add_days(date(2024, 3, 1), -1) == "2024-02-29"
    with pytest.raises(ToolArgumentError):
        add_days(date(9999, 12, 31), 1)


@pytest.mark.parametrize("name", sorted(BUILTIN_TOOLS))
def test_every_tool_tells_the_model_its_arguments_are_closed(name: str) -> None:
    schema = strict_tool(BUILTIN_TOOLS[name]).parameters()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])


def test_a_tool_without_annotations_cannot_be_described() -> None:
    def loose(a, b: int) -> int:  # type: ignore[no-untyped-def]
        """Untyped."""
        return b

    with pytest.raises(TypeError, match="parameter a has no type annotation"):
        arguments_model(loose)


async def test_a_tool_runs_on_the_event_loop_and_answers_as_in_a_thread() -> None:
    import threading

    from agent_framework import tool as af_tool

    threads: list[int] = []

    def add_and_note(a: int, b: int) -> int:
        """Add two integers."""
        threads.append(threading.get_ident())
        return a + b

    strict = strict_tool(add_and_note)
    threaded = af_tool(add_and_note, schema=arguments_model(add_and_note))
    assert (strict.name, strict.description) == ("add_and_note", "Add two integers.")
    assert strict.parameters() == threaded.parameters()
    ours = await strict.invoke(arguments={"a": 2, "b": 3})
    theirs = await threaded.invoke(arguments={"a": 2, "b": 3})
    assert [c.to_dict() for c in ours] == [c.to_dict() for c in theirs]
    assert ours[0].text == "5"
    here = threading.get_ident()
    assert threads[0] == here and threads[1] != here  # Agent Framework's own: a worker thread
    with pytest.raises(TypeError):  # still strict: a string is not an integer
        await strict.invoke(arguments={"a": "2", "b": 3})
    assert len(threads) == 2
