"""The tool-call convention, unit by unit, and a full round trip through the SDK."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai import AsyncOpenAI

from devhost.simulator.tools import PlannedCall, plan_tool_call
from tests.devhost.simulator.conftest import user


def tool(name: str, properties: dict[str, Any], required: list[str], description: str = ""):
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


ADD = tool("add", {"a": {"type": "integer"}, "b": {"type": "integer"}}, ["a", "b"], "Add a and b")
MULTIPLY = tool("multiply_numbers", {"x": {"type": "number"}, "y": {"type": "number"}}, ["x", "y"])
WEATHER = tool(
    "get_weather",
    {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    ["location"],
    "Get the current weather for a location",
)
SEARCH = tool(
    "lookup",
    {"query": {"type": "string"}, "limit": {"type": "integer"}},
    ["query"],
    "Searches the product catalogue for matching items",
)
TOOLS = [ADD, MULTIPLY, WEATHER, SEARCH]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("add 2 and 3", PlannedCall("add", {"a": 2, "b": 3})),
        ("Please add -4 and 10.", PlannedCall("add", {"a": -4, "b": 10})),
        ("multiply 1.5 by 4", PlannedCall("multiply_numbers", {"x": 1.5, "y": 4})),
        ("What's the weather in Paris?", PlannedCall("get_weather", {"location": "Paris"})),
        ("weather in new york", PlannedCall("get_weather", {"location": "new york"})),
        (
            "weather for 'San Jose' unit=fahrenheit",
            PlannedCall("get_weather", {"location": "San Jose", "unit": "fahrenheit"}),
        ),
        (
            "search the catalogue for matching lamps limit=5",
            PlannedCall("lookup", {"query": "matching lamps", "limit": 5}),
        ),
        ("add a=7 b=8", PlannedCall("add", {"a": 7, "b": 8})),
    ],
)
def test_queries_pick_the_tool_and_fill_arguments(query: str, expected: PlannedCall) -> None:
    assert plan_tool_call(query, TOOLS, "auto") == expected


@pytest.mark.parametrize(
    "query",
    [
        "tell me a joke",  # nothing matches
        "add 2",  # add needs two numbers: no call rather than a made-up one
        "address of the office",  # 'add' is a word of its own, not a prefix
    ],
)
def test_no_fitting_tool_means_no_call(query: str) -> None:
    assert plan_tool_call(query, TOOLS, "auto") is None


def test_tool_choice_none_and_forced() -> None:
    assert plan_tool_call("add 2 and 3", TOOLS, "none") is None
    forced = {"type": "function", "function": {"name": "get_weather"}}
    assert plan_tool_call("add 2 and 3", TOOLS, forced) == PlannedCall(
        "get_weather", {"location": "add"}
    )
    assert plan_tool_call("hello", TOOLS, "required") == PlannedCall("add", {"a": 0, "b": 0})


async def test_tool_call_round_trip_with_the_sdk(client: AsyncOpenAI) -> None:
    messages: list[dict[str, Any]] = user("add 2 and 3")
    first = await client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=TOOLS
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    (call,) = choice.message.tool_calls
    assert call.function.name == "add"
    arguments = json.loads(call.function.arguments)
    assert arguments == {"a": 2, "b": 3}
    assert first.usage is not None and first.usage.completion_tokens > 0

    again = await client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=TOOLS
    )
    assert again.choices[0].message.tool_calls == choice.message.tool_calls  # same id too

    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append(
        {"role": "tool", "tool_call_id": call.id, "content": str(sum(arguments.values()))}
    )
    second = await client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=TOOLS
    )
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "Tool results: add returned 5."


async def test_streamed_tool_call_reassembles(client: AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=user("What's the weather in Paris?"),
        tools=TOOLS,
        stream=True,
    )
    name, arguments, finish = "", "", None
    async for chunk in stream:
        delta = chunk.choices[0].delta
        for call in delta.tool_calls or ():
            name += call.function.name or "" if call.function else ""
            arguments += call.function.arguments or "" if call.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert name == "get_weather"
    assert json.loads(arguments) == {"location": "Paris"}
    assert finish == "tool_calls"


async def test_unmatched_query_with_tools_answers_in_text(client: AsyncOpenAI) -> None:
    result = await client.chat.completions.create(
        model="gpt-4o-mini", messages=user("tell me a joke"), tools=TOOLS
    )
    assert result.choices[0].finish_reason == "stop"
    assert result.choices[0].message.tool_calls is None


def _unit_tool(name: str, units: list[str]) -> dict:
    unit = {"type": "string", "enum": units}
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"Convert a value between {', '.join(units)}.",
            "parameters": {
                "type": "object",
                "properties": {"value": {"type": "number"}, "from_unit": unit, "to_unit": unit},
                "required": ["value", "from_unit", "to_unit"],
            },
        },
    }


def test_enum_parameters_pick_the_tool_whose_values_the_query_names() -> None:
    from devhost.simulator.tools import plan_tool_call

    tools = [_unit_tool("convert_length", ["km", "mi"]), _unit_tool("convert_mass", ["kg", "lb"])]
    call = plan_tool_call("convert 70 kg to lb", tools, "auto")
    assert call is not None
    assert (call.name, call.arguments) == (
        "convert_mass",
        {"value": 70, "from_unit": "kg", "to_unit": "lb"},
    )


def test_date_parameters_take_whole_iso_dates() -> None:
    from devhost.simulator.tools import plan_tool_call

    date = {"type": "string", "format": "date"}
    tool = {
        "type": "function",
        "function": {
            "name": "days_between",
            "parameters": {
                "type": "object",
                "properties": {"start": date, "end": date},
                "required": ["start", "end"],
            },
        },
    }
    call = plan_tool_call("days between 2026-01-01 and 2026-12-25", [tool], "auto")
    assert call is not None
    assert call.arguments == {"start": "2026-01-01", "end": "2026-12-25"}


def test_explicit_pairs_keep_their_dates() -> None:
    from devhost.simulator.tools import plan_tool_call

    tool = {
        "type": "function",
        "function": {
            "name": "add_days",
            "parameters": {
                "type": "object",
                "properties": {
                    "day": {"type": "string", "format": "date"},
                    "days": {"type": "integer"},
                },
                "required": ["day", "days"],
            },
        },
    }
    call = plan_tool_call("add_days day=2024-02-27 days=3", [tool], "auto")
    assert call is not None
    assert call.arguments == {"day": "2024-02-27", "days": 3}


def _scripted(name: str, arguments: Any, rounds: int = 1) -> str:
    script = json.dumps({"name": name, "arguments": arguments, "rounds": rounds})
    return f"please [simulate-tool-call {script}] now"


async def test_a_scripted_call_is_made_offered_or_not_for_its_rounds(client: AsyncOpenAI) -> None:
    messages: list[Any] = user(_scripted("rm\r\n-rf", {"a": "2", "extra": 1}, rounds=2))
    for _ in range(2):
        result = await client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, tools=[ADD]
        )
        message = result.choices[0].message
        assert result.choices[0].finish_reason == "tool_calls"
        assert message.tool_calls is not None
        call = message.tool_calls[0]
        assert call.function.name == "rm\r\n-rf"
        assert json.loads(call.function.arguments) == {"a": "2", "extra": 1}
        messages += [
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "ok"},
        ]
    # The rounds are spent: the model answers from the last round's results.
    result = await client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=[ADD]
    )
    assert result.choices[0].message.content == "Tool results: rm\r\n-rf returned ok."


async def test_a_scripted_call_without_tools_and_raw_arguments(client: AsyncOpenAI) -> None:
    result = await client.chat.completions.create(
        model="gpt-4o-mini", messages=user(_scripted("add", "{not json"))
    )
    call = result.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert (call.function.name, call.function.arguments) == ("add", "{not json")
    forbidden = await client.chat.completions.create(
        model="gpt-4o-mini", messages=user(_scripted("add", {})), tools=[ADD], tool_choice="none"
    )
    assert forbidden.choices[0].message.tool_calls is None
