import json
import os
from dataclasses import replace

import pytest

from agentops.model.cache import ResponseCache
from agentops.model.types import ChatMessage, ModelAnswer, Usage

from .conftest import make_request

ANSWER = ModelAnswer(text="4", usage=Usage(1000, 500), model="gpt-4o-mini")


def make_cache(store, clock, **kwargs) -> ResponseCache:
    return ResponseCache(store, clock=clock.epoch, **kwargs)


async def test_miss_then_local_hit_counts_saved_tokens(store, clock):
    cache = make_cache(store, clock)
    request = make_request()
    assert await cache.get(request) is None
    await cache.put(request, ANSWER)
    hit = await cache.get(request)
    assert hit == ModelAnswer(
        "4", Usage(), "gpt-4o-mini", cached=True, model_calls=0, saved_usage=Usage(1000, 500)
    )
    assert cache.stats.local_hits == 1 and cache.stats.misses == 1
    assert cache.stats.saved_tokens == 1500


async def test_shared_level_serves_another_worker(store, clock):
    first, second = make_cache(store, clock), make_cache(store, clock)
    request = make_request()
    await first.put(request, ANSWER)
    assert (await second.get(request)).text == "4"
    assert second.stats.shared_hits == 1
    assert (await second.get(request)).text == "4"  # now from its own LRU
    assert second.stats.local_hits == 1 and second.stats.shared_hits == 1


async def test_ttl_expires_on_both_levels(store, clock):
    cache = make_cache(store, clock)
    request = make_request(cache_ttl_s=60)
    await cache.put(request, ANSWER)
    clock.advance(59)
    assert await cache.get(request) is not None
    clock.advance(2)
    assert await cache.get(request) is None
    assert await make_cache(store, clock).get(request) is None


async def test_expiry_is_checked_even_if_the_store_keeps_the_entry(clock):
    class LazyStore:
        def __init__(self):
            self.items = {}

        async def cache_get(self, key):
            return self.items.get(key)

        async def cache_put(self, key, value, ttl_s):
            self.items[key] = value

    lazy = LazyStore()
    await make_cache(lazy, clock).put(make_request(cache_ttl_s=10), ANSWER)
    clock.advance(11)
    assert await make_cache(lazy, clock).get(make_request(cache_ttl_s=10)) is None


async def test_lru_evicts_the_least_recently_used(clock):
    cache = make_cache(None, clock, max_entries=2)
    a, b, c = (make_request(query=q) for q in "abc")
    for request in (a, b):
        await cache.put(request, ANSWER)
    await cache.get(a)  # a is now more recent than b
    await cache.put(c, ANSWER)
    assert await cache.get(b) is None
    assert await cache.get(a) is not None and await cache.get(c) is not None


async def test_opt_out_is_never_stored(store, clock):
    cache = make_cache(store, clock)
    request = make_request(cache_ttl_s=0)
    await cache.put(request, ANSWER)
    assert await cache.get(request) is None
    assert cache.key(request) is None and cache.stats.misses == 0 and cache.stats.stores == 0


def test_key_normalises_input_and_follows_what_changes_the_answer(clock):
    cache = make_cache(None, clock)
    base = cache.key(make_request(query="What is 2 + 2?", tools=("add", "convert")))
    assert cache.key(make_request(query="  what IS 2 +  2?\n", tools=("convert", "add"))) == base
    for changed in (
        make_request(agent_version="v2"),
        make_request(deployment="gpt-4o"),
        make_request(tools=("add",)),
        make_request(query="What is 2 + 3?"),
        make_request(history=(ChatMessage("user", "hi"),)),
        make_request(tenant="fabrikam"),
    ):
        assert cache.key(changed) != base


def test_keys_are_those_that_entries_already_stored_were_written_under(clock):
    """The key's material is the compact JSON of json.dumps, whatever encodes it: a changed
    byte would miss every entry in the shared store."""
    import hashlib

    cache = make_cache(None, clock)
    request = make_request(
        query='Größe\tof 東京 \u2028 «quoted» \x7f \U0001f600 \\ "',
        tools=("convert", "add"),
        history=(ChatMessage("user", "née\x01"), ChatMessage("assistant", "ok")),
    )
    material = json.dumps(
        [
            "v1",
            request.tenant,
            request.agent,
            request.agent_version,
            request.deployment,
            sorted(request.tools),
            [[m.role, " ".join(m.text.split()).casefold()] for m in request.history],
            " ".join(request.query.split()).casefold(),
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    assert cache.key(request) == "p:" + hashlib.sha256(material).hexdigest()
    # Remembered for the request, and the same for an equal one built anew.
    assert cache.key(request) == cache.key(replace(request, query=request.query + " "))


def test_remembered_keys_stay_right_past_the_number_kept(clock):
    cache, fresh = make_cache(None, clock), make_cache(None, clock)
    requests = [make_request(query=f"question {n}") for n in range(1500)]
    first = [cache.key(r) for r in requests]
    assert first == [cache.key(r) for r in requests] == [fresh.key(r) for r in requests]
    assert len(set(first)) == 1500


async def test_sensitive_agents_without_a_key_are_not_cached(store, clock):
    cache = make_cache(store, clock)
    request = make_request(sensitive=True)
    await cache.put(request, ANSWER)
    assert await cache.get(request) is None
    assert cache.key(request) is None and cache.stats.stores == 0


async def test_sensitive_answers_are_stored_encrypted(store, clock, tmp_path):
    key = os.urandom(32)
    cache = make_cache(store, clock, encryption_key=key)
    request = make_request(sensitive=True, query="patient 4711 diagnosis")
    secret = ModelAnswer("diagnosis: flu", Usage(10, 5), "gpt-4o-mini")
    await cache.put(request, secret)
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("agentops.db*"))
    assert b"flu" not in on_disk and b"4711" not in on_disk and b"patient" not in on_disk
    assert "flu" not in json.dumps(list(cache._local.values()))
    assert (
        await make_cache(store, clock, encryption_key=key).get(request)
    ).text == "diagnosis: flu"
    # Another key cannot read it (rotation): a miss, not an error.
    assert await make_cache(store, clock, encryption_key=os.urandom(32)).get(request) is None


async def test_sealed_entry_moved_to_another_key_does_not_open(store, clock):
    key = os.urandom(32)
    cache = make_cache(store, clock, encryption_key=key)
    one, two = make_request(sensitive=True, query="one"), make_request(sensitive=True, query="two")
    await cache.put(one, ANSWER)
    sealed = await store.cache_get(cache.key(one))
    await store.cache_put(cache.key(two), sealed, 300)
    assert await make_cache(store, clock, encryption_key=key).get(two) is None


def test_bad_arguments_are_refused(clock):
    with pytest.raises(ValueError):
        make_cache(None, clock, encryption_key=b"short")
    with pytest.raises(ValueError):
        make_cache(None, clock, max_entries=-1)


async def test_the_producing_item_gets_its_own_answer_back_with_its_usage(store, clock):
    request = make_request()
    await make_cache(store, clock).put(request, ANSWER, producer="run-1:0")
    restarted = make_cache(store, clock)  # a new process: only the shared level
    own = await restarted.get(request, producer="run-1:0")
    assert own == ModelAnswer("4", Usage(1000, 500), "gpt-4o-mini", cached=False, model_calls=0)
    assert restarted.stats.hits == 0 and restarted.stats.saved_tokens == 0
    other = await restarted.get(request, producer="run-1:1")
    assert other.cached and other.usage == Usage() and other.saved_usage == Usage(1000, 500)
    assert (await restarted.get(request)).cached  # no item named: a hit


async def test_a_sensitive_entry_seals_its_producer_with_the_answer(store, clock):
    key = os.urandom(32)
    request = make_request(sensitive=True, query="patient 4711")
    await make_cache(store, clock, encryption_key=key).put(request, ANSWER, producer="run-9:3")
    stored = json.dumps(
        await store.cache_get(make_cache(store, clock, encryption_key=key).key(request))
    )
    assert "run-9" not in stored
    own = await make_cache(store, clock, encryption_key=key).get(request, producer="run-9:3")
    assert not own.cached and own.usage == Usage(1000, 500)


class CountingStore:
    """The shared level over the real store, counting its round trips."""

    def __init__(self, store) -> None:
        self._store = store
        self.calls: list[str] = []

    async def cache_get(self, key):
        self.calls.append("get")
        return await self._store.cache_get(key)

    async def cache_get_many(self, keys):
        self.calls.append("get_many")
        return await self._store.cache_get_many(keys)

    async def cache_put(self, key, value, ttl_s):
        self.calls.append("put")
        await self._store.cache_put(key, value, ttl_s)


async def test_a_prefetch_answers_a_batch_of_lookups_in_one_round_trip(store, clock):
    requests = [make_request(query=f"q{n}") for n in range(4)]
    await make_cache(store, clock).put(requests[0], ANSWER)
    shared = CountingStore(store)
    cache = make_cache(shared, clock)
    await cache.prefetch([cache.key(r) for r in requests])
    answers = [await cache.get(r) for r in requests]
    assert [a is not None for a in answers] == [True, False, False, False]
    assert shared.calls == ["get_many"]
    # "Not there" stands for one lookup only: the next one asks the store again.
    await make_cache(store, clock).put(requests[1], ANSWER)
    assert (await cache.get(requests[1])).text == "4"
    assert shared.calls == ["get_many", "get"]
    # Keys already held locally are not fetched again.
    await cache.prefetch([cache.key(requests[0])])
    assert shared.calls == ["get_many", "get"]


async def test_a_prefetched_absence_expires(store, clock):
    shared = CountingStore(store)
    cache = make_cache(shared, clock)
    request = make_request()
    await cache.prefetch([cache.key(request)])
    clock.advance(120)
    await make_cache(store, clock).put(request, ANSWER)
    assert (await cache.get(request)).text == "4"
