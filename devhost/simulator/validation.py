"""Checks a chat completions body as OpenAI does, with plain dict checks (cheap per request)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_TOOL_CHOICES = frozenset({"none", "auto", "required"})


class InvalidRequestError(ValueError):
    """A request OpenAI would refuse with 400 ``invalid_request_error``."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """The parts of a request the simulator acts on."""

    deployment: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    tool_choice: str | dict[str, Any]
    max_tokens: int | None
    stream: bool
    include_usage: bool


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _invalid_type(param: str, expected: str, value: Any) -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
        param,
        "invalid_type",
    )


def parse_chat_request(body: bytes, path_deployment: str | None) -> ChatRequest:
    """Parse and check ``body``; raise ``InvalidRequestError`` on what OpenAI would refuse."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidRequestError(
            "We could not parse the JSON body of your request. (HINT: This likely means you"
            " aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)"
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequestError("The request body must be a JSON object.", None, "invalid_type")

    deployment = path_deployment
    if deployment is None:
        model = data.get("model")
        if model is None:
            raise InvalidRequestError(
                "Missing required parameter: 'model'.", "model", "missing_required_parameter"
            )
        if not isinstance(model, str) or not model:
            raise _invalid_type("model", "a non-empty string", model)
        deployment = model

    messages = _check_messages(data.get("messages"))
    tools = _check_tools(data.get("tools"))
    tool_choice = _check_tool_choice(data.get("tool_choice"), tools)
    max_tokens = _check_max_tokens(data)

    temperature = data.get("temperature")
    if temperature is not None:
        if isinstance(temperature, bool) or not isinstance(temperature, int | float):
            raise _invalid_type("temperature", "a decimal", temperature)
        if not 0 <= temperature <= 2:
            above = temperature > 2
            raise InvalidRequestError(
                f"Invalid 'temperature': decimal {'above maximum' if above else 'below minimum'}"
                f" value. Expected a value {'<= 2' if above else '>= 0'},"
                f" but got {temperature} instead.",
                "temperature",
                "decimal_above_max_value" if above else "decimal_below_min_value",
            )
    n = data.get("n")
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise _invalid_type("n", "an integer", n)
        if n != 1:
            raise InvalidRequestError("The simulator supports only n=1.", "n", "unsupported_value")

    stream = data.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _invalid_type("stream", "a boolean", stream)
    stream_options = data.get("stream_options")
    include_usage = False
    if stream_options is not None:
        if not stream:
            raise InvalidRequestError(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "stream_options",
                "invalid_value",
            )
        if not isinstance(stream_options, dict):
            raise _invalid_type("stream_options", "an object", stream_options)
        flag = stream_options.get("include_usage", False)
        if not isinstance(flag, bool):
            raise _invalid_type("stream_options.include_usage", "a boolean", flag)
        include_usage = flag

    return ChatRequest(
        deployment=deployment,
        messages=messages,
        tools=tools,
        tool_choice=tool_choice,
        max_tokens=max_tokens,
        stream=bool(stream),
        include_usage=include_usage,
    )


def _check_messages(messages: Any) -> list[dict[str, Any]]:
    if messages is None:
        raise InvalidRequestError(
            "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    if not isinstance(messages, list):
        raise _invalid_type("messages", "an array", messages)
    if not messages:
        raise InvalidRequestError(
            "Invalid 'messages': empty array. Expected an array with minimum length 1,"
            " but got an empty array instead.",
            "messages",
            "empty_array",
        )
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _invalid_type(where, "an object", message)
        role = message.get("role")
        if role is None:
            raise InvalidRequestError(
                f"Missing required parameter: '{where}.role'.",
                f"{where}.role",
                "missing_required_parameter",
            )
        if role not in _ROLES:
            raise InvalidRequestError(
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user',"
                " 'function', 'tool', and 'developer'.",
                f"{where}.role",
                "invalid_value",
            )
        content = message.get("content")
        if content is None:
            if role != "assistant" and role != "function":
                raise InvalidRequestError(
                    f"Missing required parameter: '{where}.content'.",
                    f"{where}.content",
                    "missing_required_parameter",
                )
        elif not isinstance(content, str | list):
            raise _invalid_type(f"{where}.content", "one of a string or array of objects", content)
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise InvalidRequestError(
                f"Missing required parameter: '{where}.tool_call_id'.",
                f"{where}.tool_call_id",
                "missing_required_parameter",
            )
        tool_calls = message.get("tool_calls")
        if tool_calls is not None and not isinstance(tool_calls, list):
            raise _invalid_type(f"{where}.tool_calls", "an array", tool_calls)
    return messages


def _check_tools(tools: Any) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise _invalid_type("tools", "an array", tools)
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise InvalidRequestError(
                f"Invalid '{where}': expected an object with type 'function'.",
                where,
                "invalid_value",
            )
        function = tool.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidRequestError(
                f"Missing required parameter: '{where}.function.name'.",
                f"{where}.function.name",
                "missing_required_parameter",
            )
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise _invalid_type(f"{where}.function.parameters", "an object", parameters)
    return tools


def _check_tool_choice(choice: Any, tools: list[dict[str, Any]]) -> str | dict[str, Any]:
    if choice is None:
        return "auto"
    if isinstance(choice, str):
        if choice not in _TOOL_CHOICES:
            raise InvalidRequestError(
                f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'.",
                "tool_choice",
                "invalid_value",
            )
        if choice == "required" and not tools:
            raise InvalidRequestError(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools'"
                " are specified.",
                "tool_choice",
                None,
            )
        return choice
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if not any(t["function"]["name"] == name for t in tools):
            raise InvalidRequestError(
                f"Invalid value for 'tool_choice': no function named '{name}' was specified"
                " in the 'tools' parameter.",
                "tool_choice",
                None,
            )
        return choice
    raise _invalid_type("tool_choice", "a string or an object", choice)


def _check_max_tokens(data: dict[str, Any]) -> int | None:
    result: int | None = None
    for param in ("max_completion_tokens", "max_tokens"):
        value = data.get(param)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid_type(param, "an integer", value)
        if value < 1:
            raise InvalidRequestError(
                f"Invalid '{param}': integer below minimum value. Expected a value >= 1,"
                f" but got {value} instead.",
                param,
                "integer_below_min_value",
            )
        result = value if result is None else min(result, value)
    return result
