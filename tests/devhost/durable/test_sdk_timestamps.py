"""The SDK's timestamp parsing, memoised by devhost: the same datetimes, parsed once."""

from __future__ import annotations

import functools
import importlib

from dateutil.parser import parse

import devhost.durable.replay  # noqa: F401 - importing it wraps the parsers

# The modules, not the classes of the same name that the SDK's packages re-export.
history_module = importlib.import_module("azure.durable_functions.models.history.HistoryEvent")
status_module = importlib.import_module("azure.durable_functions.models.DurableOrchestrationStatus")


def test_history_and_status_parsers_are_wrapped_not_replaced():
    for module in (history_module, status_module):
        assert isinstance(module.dt_parse, functools._lru_cache_wrapper)
        assert module.dt_parse.__wrapped__ is parse


def test_a_polled_status_parses_its_times_as_dateutil_does():
    document = {
        "name": "agent_batch",
        "instanceId": "abc",
        "createdTime": "2026-12-06T19:40:04.783897Z",
        "lastUpdatedTime": "2026-12-06T19:40:08.338406Z",
        "runtimeStatus": "Running",
    }
    first = status_module.DurableOrchestrationStatus.from_json(document)
    hits = status_module.dt_parse.cache_info().hits
    again = status_module.DurableOrchestrationStatus.from_json(document)
    assert status_module.dt_parse.cache_info().hits == hits + 2
    assert again.created_time == first.created_time == parse(document["createdTime"])
    assert again.last_updated_time == parse(document["lastUpdatedTime"])
    assert again.last_updated_time.tzinfo is not None
