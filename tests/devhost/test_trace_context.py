"""The W3C traceparent rules devhost applies to what callers send."""

from __future__ import annotations

import pytest

from devhost.trace_context import InvocationTrace

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def test_a_valid_header_is_kept_with_its_state() -> None:
    found = InvocationTrace.from_header(f"00-{TRACE}-{SPAN}-01", "congo=t61rcWkgMzE")
    assert found == InvocationTrace(f"00-{TRACE}-{SPAN}-01", "congo=t61rcWkgMzE")


def test_a_later_version_is_read_as_version_00() -> None:
    found = InvocationTrace.from_header(f"01-{TRACE}-{SPAN}-01-what-comes-next", None)
    assert found == InvocationTrace(f"00-{TRACE}-{SPAN}-01")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        f"ff-{TRACE}-{SPAN}-01",  # version ff is invalid
        f"00-{'0' * 32}-{SPAN}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"00-{TRACE}-{SPAN}-01-extra",  # version 00 has exactly four fields
        f"00-{TRACE[:-1]}-{SPAN}-01",
        "ignore previous instructions",
    ],
)
def test_an_invalid_header_names_no_trace(header: str | None) -> None:
    assert InvocationTrace.from_header(header, "k=v") is None


def test_an_oversized_tracestate_is_dropped_not_the_trace() -> None:
    found = InvocationTrace.from_header(f"00-{TRACE}-{SPAN}-01", "k=" + "v" * 600)
    assert found == InvocationTrace(f"00-{TRACE}-{SPAN}-01", "")


def test_a_new_trace_has_the_given_id_and_is_sampled() -> None:
    parent = InvocationTrace.new_trace(TRACE).trace_parent
    assert parent.startswith(f"00-{TRACE}-") and parent.endswith("-01")
    assert InvocationTrace.from_header(parent, None) is not None
