"""Invoking user functions: arguments from bindings, sync in a thread pool, async on the loop.

All async functions run on the server's single event loop, because the Durable SDK's client
keeps one global aiohttp session that is bound to the loop it was created on.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from azure.functions import _abc as functions_abc

from devhost.trace_context import InvocationTrace

if TYPE_CHECKING:
    from azure.functions.decorators.core import Function

logger = logging.getLogger(__name__)

HTTP_TRIGGER = "httpTrigger"
TIMER_TRIGGER = "timerTrigger"
DURABLE_CLIENT = "durableClient"
DURABLE_TRIGGERS = frozenset({"orchestrationTrigger", "activityTrigger", "entityTrigger"})
CONTEXT_PARAMETER = "context"


class UnsupportedBindingError(ValueError):
    """A function declares a parameter devhost cannot supply."""


class _TraceContext(functions_abc.TraceContext):
    def __init__(self, trace: InvocationTrace) -> None:
        self._trace = trace

    @property
    def trace_state(self) -> str:
        return self._trace.trace_state

    @property
    def trace_parent(self) -> str:
        return self._trace.trace_parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(functions_abc.RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> functions_abc.RpcException:
        return functions_abc.RpcException()


class InvocationContext(functions_abc.Context):
    """The `context` argument of a function invocation."""

    _thread_local = threading.local()

    def __init__(
        self,
        invocation_id: str,
        function_name: str,
        function_directory: str,
        trace: InvocationTrace | None = None,
    ) -> None:
        """`trace`: the context the invocation runs in; by default a new trace whose id is the
        invocation id, so that its logs can be correlated."""
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._trace_context = _TraceContext(
            trace or InvocationTrace.new_trace(uuid.UUID(invocation_id).hex)
        )

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> threading.local:  # type: ignore[override]
        return self._thread_local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> functions_abc.TraceContext:
        return self._trace_context

    @property
    def retry_context(self) -> functions_abc.RetryContext:
        return _RetryContext()


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    """A function from the app's index, with what devhost needs to call it."""

    function: Function = field(repr=False)
    name: str
    trigger_type: str
    trigger_name: str
    durable_client_names: tuple[str, ...]
    takes_context: bool
    unsupported: str | None = None
    """Why devhost cannot serve this function, if it cannot."""

    @property
    def user_function(self) -> Callable[..., Any]:
        return self.function.get_user_function()

    @property
    def is_async(self) -> bool:
        func = self.user_function
        return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            getattr(func, "__call__", None)  # noqa: B004 - callable objects with async __call__
        )

    @property
    def trigger(self) -> Any:
        return self.function.get_trigger()


# What identifies a binding's target, in the order it is worth naming.
_BINDING_TARGETS = ("path", "queueName", "topicName", "containerName", "databaseName", "hubName")
_DIRECTIONS = {0: "input", 1: "output", 2: "input/output"}


def _binding_label(binding: Any) -> str:
    """'blob input binding 'blob' (path 'c/i.txt')', from what the decorator recorded."""
    details = binding.get_dict_repr()
    direction = getattr(details.get("direction"), "value", details.get("direction"))
    label = f"{binding.type} {_DIRECTIONS.get(direction, 'binding')} binding '{binding.name}'"
    target = next((f"{key} {details[key]!r}" for key in _BINDING_TARGETS if details.get(key)), "")
    return f"{label} ({target})" if target else label


def unsupplied_bindings(function: Function) -> list[str]:
    """The bindings of `function` that devhost does not supply, each named for a person.

    devhost supplies triggers, the HTTP response (`$return` of type http) and, to HTTP and timer
    functions, durableClient; anything else (blob, queue, table, Cosmos DB, Service Bus, a durable
    client on an activity, ...) it neither reads nor writes.
    """
    trigger = function.get_trigger()
    # The durable client goes to the functions the Invoker calls: HTTP and timer triggers.
    gets_client = trigger is not None and trigger.type in (HTTP_TRIGGER, TIMER_TRIGGER)
    missing: list[str] = []
    for binding in function.get_bindings():
        if binding is trigger or (binding.type == DURABLE_CLIENT and gets_client):
            continue
        if binding.type == "http" and binding.name == "$return":
            continue
        missing.append(_binding_label(binding))
    return missing


def unsupplied_reason(function: Function) -> str | None:
    """Why devhost cannot run `function` as declared, naming each binding it lacks; or None."""
    missing = unsupplied_bindings(function)
    if not missing:
        return None
    return (
        f"devhost does not supply its {', '.join(missing)}; it supplies triggers, context and, "
        "to HTTP and timer functions, durableClient (call the service from the function's code "
        "to run it locally)"
    )


def describe(function: Function) -> FunctionInfo:
    """Read a function's trigger and bindings, and whether devhost can supply its parameters."""
    name = function.get_function_name() or function.get_user_function().__name__
    trigger = function.get_trigger()
    if trigger is None:
        raise UnsupportedBindingError(f"function {name!r} has no trigger")
    supplied = {trigger.name}
    clients: list[str] = []
    for binding in function.get_bindings():
        if binding.type == DURABLE_CLIENT:
            clients.append(binding.name)
            supplied.add(binding.name)
    try:
        parameters = inspect.signature(function.get_user_function()).parameters
    except (TypeError, ValueError):
        parameters = {}
    takes_context = CONTEXT_PARAMETER in parameters
    unsupported = unsupplied_reason(function)
    if unsupported is None and trigger.type in (HTTP_TRIGGER, TIMER_TRIGGER):
        for parameter in parameters.values():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            if parameter.name in supplied or parameter.name == CONTEXT_PARAMETER:
                continue
            if parameter.default is not parameter.empty:
                continue
            unsupported = (
                f"parameter {parameter.name!r} is bound to nothing devhost knows "
                "(it supplies the trigger, durableClient and context)"
            )
            break
    return FunctionInfo(
        function=function,
        name=name,
        trigger_type=trigger.type,
        trigger_name=trigger.name,
        durable_client_names=tuple(clients),
        takes_context=takes_context,
        unsupported=unsupported,
    )


class Invoker:
    """Calls user functions with their arguments; knows nothing of HTTP or schedules."""

    def __init__(
        self,
        *,
        function_directory: str,
        max_threads: int,
        durable_client_json: Callable[[], str] | None = None,
    ) -> None:
        self._function_directory = function_directory
        self._durable_client_json = durable_client_json
        self._executor = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="function")

    def new_context(
        self, info: FunctionInfo, trace: InvocationTrace | None = None
    ) -> InvocationContext:
        return InvocationContext(str(uuid.uuid4()), info.name, self._function_directory, trace)

    def arguments(
        self, info: FunctionInfo, trigger_value: Any, context: InvocationContext
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {info.trigger_name: trigger_value}
        if info.durable_client_names:
            if self._durable_client_json is None:
                raise RuntimeError(f"function {info.name!r} needs the durable engine")
            client = self._durable_client_json()
            for name in info.durable_client_names:
                kwargs[name] = client
        if info.takes_context:
            kwargs[CONTEXT_PARAMETER] = context
        return kwargs

    async def call(self, info: FunctionInfo, trigger_value: Any, context: InvocationContext) -> Any:
        kwargs = self.arguments(info, trigger_value, context)
        func = info.user_function
        if info.is_async:
            return await func(**kwargs)
        loop = asyncio.get_running_loop()
        call = functools.partial(contextvars.copy_context().run, func, **kwargs)
        return await loop.run_in_executor(self._executor, call)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
