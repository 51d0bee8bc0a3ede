"""Invoke one activity function the way the Functions Python worker does."""

from __future__ import annotations

import asyncio
import inspect
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from azure.functions.durable_functions import ActivityTriggerConverter
from azure.functions.meta import Datum

from devhost.invoke import InvocationContext
from devhost.trace_context import InvocationTrace


@dataclass(frozen=True)
class ActivityFunction:
    name: str
    binding_name: str
    user_function: Callable[..., Any]

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.user_function)

    @property
    def takes_context(self) -> bool:
        """It declares `context`: the Python worker then passes the invocation's context."""
        try:
            return "context" in inspect.signature(self.user_function).parameters
        except (TypeError, ValueError):
            return False


@dataclass(frozen=True)
class ActivityOutcome:
    succeeded: bool
    result: str | None = None  # JSON text, as TaskCompleted.Result
    reason: str | None = None
    details: str | None = None


async def invoke_activity(
    activity: ActivityFunction,
    input_text: str | None,
    thread_pool: Executor,
    trace: InvocationTrace | None = None,
    *,
    function_directory: str = "",
) -> ActivityOutcome:
    """Decode the input, run the function (async on the loop, sync in the pool), encode.
    A function that declares `context` gets one, in the trace `trace`."""
    try:
        value = ActivityTriggerConverter.decode(
            Datum(value=input_text if input_text is not None else "null", type="json"),
            trigger_metadata=None,
        )
        kwargs: dict[str, Any] = {activity.binding_name: value}
        if activity.takes_context:
            kwargs["context"] = InvocationContext(
                str(uuid.uuid4()), activity.name, function_directory, trace
            )
        if activity.is_async:
            result = await activity.user_function(**kwargs)
        else:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(
                thread_pool, lambda: activity.user_function(**kwargs)
            )
        encoded = ActivityTriggerConverter.encode(result, expected_type=None)
    except Exception as exc:
        return failure(activity.name, exc)
    return ActivityOutcome(succeeded=True, result=encoded.value)


def failure(name: str, exc: BaseException) -> ActivityOutcome:
    # Same layering as Azure: the reason names the function and the error; the details carry
    # the worker's "Result: Failure / Exception / Stack" report.
    error = f"{type(exc).__name__}: {exc}"
    stack = "".join(traceback.format_exception(exc))
    return ActivityOutcome(
        succeeded=False,
        reason=f"Activity function '{name}' failed: {error}",
        details=f"Result: Failure\nException: {error}\nStack: {stack}",
    )


def missing_function(name: str, kind: str) -> ActivityOutcome:
    return ActivityOutcome(
        succeeded=False,
        reason=(
            f"The function '{name}' doesn't exist, is disabled, or is not {kind} function. "
            "Additional info: the app registers no such function."
        ),
        details="",
    )
