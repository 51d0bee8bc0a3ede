"""One trace per run: W3C trace context carried from the HTTP request to every item of the run.

A run crosses processes and time: the HTTP request that starts it, then the orchestration, which
replays and must not start spans, then activities that may run on other workers minutes later.
The context therefore travels as data: `carrier()` captures the current context as a small
`TraceCarrier` (``traceparent``/``tracestate``, through OpenTelemetry's W3C propagator; never
baggage, which could hold caller data) that goes into the orchestration's input and from there,
copied, into each activity's input. An activity starts its span with that carrier as parent.

The Functions host also hands each invocation a trace context of its own (``context.
trace_context``): for an HTTP request its span is the caller's child, for an activity (Durable's
distributed tracing) a child of the orchestration that the request started. `parent_for` prefers
it when it is in the same trace as the run, so the host's spans sit between ours; when it is in
another trace, the run's context stays the parent and the host's is linked.

Span names are low-cardinality (a route template, an activity's name); attributes carry ids the
app made (run id, item index) and never query text, keys or user ids. Exceptions mark a span
failed with their type only: their messages may quote what a caller sent.

With no SDK installed the API's tracer hands back invalid spans; the parent context then stays
current, so the run's trace id still reaches the run record and the logs, at no cost.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import BaseModel, ConfigDict

from agentops.request_naming import outcome_of, request_method, route_template

# Attribute names: the app's own under "agentops.", the semantic conventions' where they fit.
RUN_ID = "agentops.run.id"
AGENT = "agentops.agent"
INSTANCE_ID = "agentops.instance.id"
ITEM_INDEX = "agentops.item.index"
ITEM_ATTEMPT = "agentops.item.attempt"
OUTCOME = "agentops.outcome"
ERROR_TYPE = "error.type"
HTTP_METHOD = "http.request.method"
HTTP_ROUTE = "http.route"
HTTP_STATUS = "http.response.status_code"

_PROPAGATOR = TraceContextTextMapPropagator()


class TraceCarrier(BaseModel):
    """A W3C trace context as it travels through durable history."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    traceparent: str
    tracestate: str | None = None

    def fields(self) -> dict[str, str]:
        found = {"traceparent": self.traceparent}
        if self.tracestate:
            found["tracestate"] = self.tracestate
        return found


def carrier(ctx: Context | None = None) -> TraceCarrier | None:
    """The context `ctx` (the current one by default) as a carrier; None outside any trace."""
    fields: dict[str, str] = {}
    _PROPAGATOR.inject(fields, context=ctx)
    parent = fields.get("traceparent")
    if not parent:
        return None
    return TraceCarrier(traceparent=parent, tracestate=fields.get("tracestate") or None)


def context_of(given: TraceCarrier | Mapping[str, str] | None) -> Context | None:
    """The remote parent that a carrier or a header mapping names; None when it names none
    (absent, or not a valid traceparent)."""
    if given is None:
        return None
    if isinstance(given, TraceCarrier):
        fields = given.fields()
    else:
        fields = {
            name: value
            for name in ("traceparent", "tracestate")
            if (value := given.get(name)) is not None
        }
    if not fields.get("traceparent"):
        return None
    # An empty base context: a malformed header must not fall back to whatever is current.
    extracted = _PROPAGATOR.extract(fields, context=Context())
    return extracted if _span_context(extracted).is_valid else None


def host_carrier(invocation: Any) -> TraceCarrier | None:
    """The trace context the Functions host gave an invocation (``context.trace_context``),
    read by duck typing so that this module needs no ``azure.functions``."""
    given = getattr(invocation, "trace_context", None)
    parent = getattr(given, "trace_parent", None) or getattr(given, "Traceparent", None)
    if not isinstance(parent, str) or not parent:
        return None
    state = getattr(given, "trace_state", None) or getattr(given, "Tracestate", None)
    return TraceCarrier(traceparent=parent, tracestate=state if isinstance(state, str) else None)


def trace_id(ctx: Context | None = None) -> str | None:
    """The trace id (32 hex digits) of `ctx`, the current context by default; None outside."""
    found = _span_context(ctx)
    return trace.format_trace_id(found.trace_id) if found.is_valid else None


@dataclass(frozen=True, slots=True)
class Parent:
    """Where a span hangs: a parent context (empty: a new trace) and links to other traces."""

    context: Context
    links: tuple[Link, ...] = ()


def parent_for(own: TraceCarrier | Mapping[str, str] | None, host: TraceCarrier | None) -> Parent:
    """The parent of a span that has its own context (the run's carrier, or the caller's
    ``traceparent`` header) and the host's context for the invocation."""
    mine, theirs = context_of(own), context_of(host)
    if theirs is not None and (
        mine is None or _span_context(mine).trace_id == _span_context(theirs).trace_id
    ):
        return Parent(theirs)
    if mine is not None:
        links = (Link(_span_context(theirs)),) if theirs is not None else ()
        return Parent(mine, links)
    return Parent(Context())


@contextmanager
def span(
    tracer: Tracer,
    name: str,
    parent: Parent | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, str | int | float | bool] | None = None,
) -> Iterator[Span]:
    """A span, current inside the block, under `parent` (the current context by default).

    An exception marks it failed with the exception's type, never its message, and goes on.
    """
    with _current_span(tracer, name, parent, kind=kind, attributes=attributes) as (started, _):
        yield started


@dataclass(slots=True)
class SpanEnd:
    """Whether the span ends with its block; False: the block's owner ends it later."""

    with_block: bool = True


@contextmanager
def _current_span(
    tracer: Tracer,
    name: str,
    parent: Parent | None,
    *,
    kind: SpanKind,
    attributes: Mapping[str, str | int | float | bool] | None,
) -> Iterator[tuple[Span, SpanEnd]]:
    """`span`, whose end the block may take over: clear the `SpanEnd` it yields and end the
    span itself later (a streamed answer's span ends with its last chunk)."""
    base = parent.context if parent is not None else otel_context.get_current()
    started = tracer.start_span(
        name,
        context=base,
        kind=kind,
        attributes=dict(attributes or {}),
        links=parent.links if parent is not None else (),
        record_exception=False,
        set_status_on_exception=False,
    )
    # An invalid span (no SDK) would hide the parent: keep the parent current instead.
    valid = started.get_span_context().is_valid
    current = trace.set_span_in_context(started, base) if valid else base
    token = otel_context.attach(current)
    end = SpanEnd()
    try:
        yield started, end
    except BaseException as error:
        failed(started, error)
        raise
    finally:
        otel_context.detach(token)
        if end.with_block:
            started.end()


def failed(target: Span, error: BaseException) -> None:
    """Mark `target` failed by the error's type alone (a message may quote caller text)."""
    target.set_attribute(ERROR_TYPE, type(error).__qualname__)
    target.set_status(StatusCode.ERROR)


# --- The HTTP edge ------------------------------------------------------------------------------


@contextmanager
def request_span(
    tracer: Tracer,
    *,
    method: str,
    url: str,
    route_params: Mapping[str, str],
    headers: Mapping[str, str],
    invocation: Any,
) -> Iterator[tuple[Span, SpanEnd]]:
    """A server span named ``METHOD /route/{template}``, under the host's context for the
    invocation or the caller's ``traceparent`` header; its end may be taken over."""
    route = route_template(url, route_params)
    method = request_method(method)
    header = {name: value for name in ("traceparent", "tracestate") if (value := headers.get(name))}
    parent = parent_for(header, host_carrier(invocation))
    attributes = {HTTP_METHOD: method, HTTP_ROUTE: route}
    with _current_span(
        tracer, f"{method} {route}", parent, kind=SpanKind.SERVER, attributes=attributes
    ) as on:
        yield on


def answered(target: Span, status: int) -> None:
    target.set_attribute(HTTP_STATUS, status)
    target.set_attribute(OUTCOME, outcome_of(status))
    if status >= 500:  # a 4xx is the caller's error, not the server's
        target.set_status(StatusCode.ERROR)


def traced_request[**P, R](
    tracer: Tracer, *, before: Callable[[], Awaitable[object]] | None = None
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Give each call of the HTTP edge's wrapper, ``async def wrapper(req, context, ...)``
    returning the response, its request's server span (read by duck typing: ``req.method``,
    ``.url``, ``.path_params``, ``.headers``; the response's ``.status_code``). A streamed
    response (one with a ``body_iterator``) ends its span when its body ends, as the
    conventions for HTTP server spans have it.

    `before` is awaited first, outside the span: building the services installs the tracer
    provider, and a span started before it would not be recorded (the first request of a
    process would be missing from its trace)."""

    def decorate(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(handler)
        async def traced(*args: P.args, **kwargs: P.kwargs) -> R:
            req, invocation = args[0], args[1]
            if before is not None:
                await before()
            with request_span(
                tracer,
                method=getattr(req, "method", ""),
                url=str(getattr(req, "url", "")),
                route_params=getattr(req, "path_params", None) or {},
                headers=getattr(req, "headers", None) or {},
                invocation=invocation,
            ) as (current, end):
                try:
                    response = await handler(*args, **kwargs)
                except Exception:
                    answered(current, 500)  # the host answers 500
                    raise
                answered(current, int(getattr(response, "status_code", 200)))
                body = getattr(response, "body_iterator", None)
                if body is not None:
                    response.body_iterator = _ending(body, current)  # type: ignore[attr-defined]
                    end.with_block = False
                return response

        return traced

    return decorate


async def _ending[T](body: AsyncIterable[T], target: Span) -> AsyncIterator[T]:
    """`body`, ending `target` after its last chunk or when the caller left; a body that fails
    marks it failed."""
    try:
        async for chunk in body:
            yield chunk
    except Exception as error:
        failed(target, error)
        raise
    finally:
        try:
            await close_body(body)
        finally:
            target.end()


async def close_body(body: object) -> None:
    """Close a wrapped body that was left part-way: closing the wrapper (the caller left) must
    reach the generators inside it, whose own clean-up (stopping the model call, recording the
    request) would otherwise wait for the garbage collector."""
    close = getattr(body, "aclose", None)
    if close is not None:
        await close()


def activity_span(
    tracer: Tracer,
    name: str,
    run_carrier: TraceCarrier | None,
    invocation: Any,
    attributes: Mapping[str, str | int | float | bool],
) -> AbstractContextManager[Span]:
    """The span of one activity execution (``activity {name}``) in its run's trace."""
    parent = parent_for(run_carrier, host_carrier(invocation))
    return span(tracer, f"activity {name}", parent, attributes=attributes)


def _span_context(ctx: Context | None) -> trace.SpanContext:
    return trace.get_current_span(ctx).get_span_context()
