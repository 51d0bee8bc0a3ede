"""The trace context helpers: carriers, the choice of parent, spans, the HTTP edge's span."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry import baggage, context, trace
from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id

from agentops import tracing
from tests.telemetry_capture import CapturedTelemetry

RUN_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
HOST_TRACE = "0af7651916cd43dd8448eb211c80319c"
tracer = trace.get_tracer(__name__)


def _parent(trace_id: str, span_id: str = "00f067aa0ba902b7") -> str:
    return f"00-{trace_id}-{span_id}-01"


def _host(traceparent: str) -> Any:
    """An invocation context as the Functions worker passes it."""
    return SimpleNamespace(trace_context=SimpleNamespace(trace_parent=traceparent, trace_state=""))


def test_a_carrier_names_the_current_span_and_never_carries_baggage(
    captured_telemetry: CapturedTelemetry,
) -> None:
    token = context.attach(baggage.set_baggage("user", "ada.lovelace@example.com"))
    try:
        with tracer.start_as_current_span("work") as span:
            carrier = tracing.carrier()
    finally:
        context.detach(token)
    assert carrier is not None
    named = span.get_span_context()
    assert carrier.model_dump(exclude_none=True) == {
        "traceparent": f"00-{format_trace_id(named.trace_id)}-{format_span_id(named.span_id)}-"
        f"{int(named.trace_flags):02x}"
    }
    restored = tracing.context_of(carrier)
    assert restored is not None
    assert tracing.trace_id(restored) == format_trace_id(span.get_span_context().trace_id)
    assert tracing.carrier(context.Context()) is None  # outside any trace: nothing to carry


@pytest.mark.parametrize("header", ["", "00-nonsense", _parent("0" * 32), "ff-" + "1" * 52])
def test_a_malformed_traceparent_names_no_parent_even_inside_a_span(
    captured_telemetry: CapturedTelemetry, header: str
) -> None:
    with tracer.start_as_current_span("current"):
        assert tracing.context_of({"traceparent": header}) is None


def test_the_hosts_context_is_the_parent_when_it_is_in_the_runs_trace() -> None:
    chosen = tracing.parent_for(
        tracing.TraceCarrier(traceparent=_parent(RUN_TRACE)),
        tracing.TraceCarrier(traceparent=_parent(RUN_TRACE, "1111111111111111")),
    )
    parent = trace.get_current_span(chosen.context).get_span_context()
    assert format_span_id(parent.span_id) == "1111111111111111" and chosen.links == ()


def test_a_host_context_in_another_trace_is_linked_and_the_run_stays_the_parent() -> None:
    chosen = tracing.parent_for(
        tracing.TraceCarrier(traceparent=_parent(RUN_TRACE)),
        tracing.TraceCarrier(traceparent=_parent(HOST_TRACE)),
    )
    assert tracing.trace_id(chosen.context) == RUN_TRACE
    (link,) = chosen.links
    assert format_trace_id(link.context.trace_id) == HOST_TRACE


def test_without_a_context_of_its_own_the_host_is_the_parent_and_without_any_a_new_trace() -> None:
    only_host = tracing.parent_for(None, tracing.TraceCarrier(traceparent=_parent(HOST_TRACE)))
    assert tracing.trace_id(only_host.context) == HOST_TRACE
    assert tracing.trace_id(tracing.parent_for(None, None).context) is None


def test_an_activity_span_joins_the_run_when_the_host_puts_it_in_another_trace(
    captured_telemetry: CapturedTelemetry,
) -> None:
    run = tracing.TraceCarrier(traceparent=_parent(RUN_TRACE))
    with tracing.activity_span(tracer, "run_agent_batch", run, _host(_parent(HOST_TRACE)), {}):
        pass
    (span,) = captured_telemetry.spans()
    assert span.name == "activity run_agent_batch"
    assert format_trace_id(span.context.trace_id) == RUN_TRACE
    assert [format_trace_id(link.context.trace_id) for link in span.links] == [HOST_TRACE]


def test_a_failure_marks_the_span_by_type_and_never_by_message(
    captured_telemetry: CapturedTelemetry,
) -> None:
    with pytest.raises(ValueError), tracing.span(tracer, "work"):
        raise ValueError("query: ada.lovelace@example.com")
    (span,) = captured_telemetry.spans()
    assert span.status.status_code is StatusCode.ERROR and not span.status.description
    assert span.attributes["error.type"] == "ValueError"
    assert span.events == ()


def test_with_no_sdk_the_parent_stays_current_so_the_trace_id_is_still_known() -> None:
    parent = tracing.parent_for({"traceparent": _parent(RUN_TRACE)}, None)
    with tracing.span(trace.NoOpTracer(), "work", parent):
        assert tracing.trace_id() == RUN_TRACE
        assert tracing.carrier() is not None
    assert tracing.trace_id() != RUN_TRACE


@tracing.traced_request(tracer)
async def _edge(req: Any, invocation: Any, status: int) -> Any:
    if status >= 500:
        raise RuntimeError("the store is down")
    return SimpleNamespace(status_code=status)


def _request(**headers: str) -> Any:
    return SimpleNamespace(
        method="post",
        url="https://app.example/api/agents/summarizer/runs?code=secret-function-key",
        path_params={"agent": "summarizer"},
        headers=headers,
    )


async def test_a_request_span_is_named_by_its_route_and_parented_on_the_callers_header(
    captured_telemetry: CapturedTelemetry,
) -> None:
    await _edge(_request(traceparent=_parent(RUN_TRACE)), None, 429)
    (span,) = captured_telemetry.spans()
    assert span.name == "POST /api/agents/{agent}/runs" and span.kind is SpanKind.SERVER
    assert dict(span.attributes) == {
        "http.request.method": "POST",
        "http.route": "/api/agents/{agent}/runs",
        "http.response.status_code": 429,
        "agentops.outcome": "client_error",
    }
    assert format_trace_id(span.context.trace_id) == RUN_TRACE
    assert span.status.status_code is StatusCode.UNSET  # a 4xx is the caller's


@tracing.traced_request(tracer)
async def _streaming_edge(req: Any, invocation: Any, chunks: list[bytes]) -> Any:
    async def body() -> Any:
        for chunk in chunks:
            yield chunk

    return SimpleNamespace(status_code=200, body_iterator=body())


async def test_a_streamed_answers_span_ends_with_its_last_chunk(
    captured_telemetry: CapturedTelemetry,
) -> None:
    response = await _streaming_edge(_request(), None, [b"one", b"two"])
    assert captured_telemetry.spans() == []  # still open: the body has not been sent
    assert [chunk async for chunk in response.body_iterator] == [b"one", b"two"]
    (span,) = captured_telemetry.spans()
    assert span.kind is SpanKind.SERVER and span.attributes["http.response.status_code"] == 200
    assert span.status.status_code is StatusCode.UNSET


async def test_a_streamed_answer_left_by_its_caller_ends_its_span_unfailed(
    captured_telemetry: CapturedTelemetry,
) -> None:
    response = await _streaming_edge(_request(), None, [b"one", b"two"])
    body = response.body_iterator
    assert await anext(body) == b"one"
    await body.aclose()  # as the server does when the caller disconnects
    (span,) = captured_telemetry.spans()
    assert span.status.status_code is StatusCode.UNSET


async def test_a_request_that_raises_is_a_failed_500(captured_telemetry: CapturedTelemetry) -> None:
    with pytest.raises(RuntimeError):
        await _edge(_request(), _host(_parent(HOST_TRACE)), 500)
    (span,) = captured_telemetry.spans()
    assert span.attributes["http.response.status_code"] == 500
    assert span.attributes["agentops.outcome"] == "server_error"
    assert span.attributes["error.type"] == "RuntimeError"
    assert span.status.status_code is StatusCode.ERROR
    assert format_trace_id(span.context.trace_id) == HOST_TRACE  # the host's, with no header
