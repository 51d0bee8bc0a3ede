"""``ModelGateway.stream``: the streamed model path, priced once and billed for what it made."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from agentops.model.gateway import ModelGateway
from agentops.model.stream_events import StreamItem, TextDelta, ToolCalled
from agentops.model.types import ModelAnswer, ModelRequest, PermanentModelError, Usage

from .conftest import TODAY_OF, make_request
from .test_gateway import make_gateway


class StreamingEndpoint:
    """A streamed invoke: ``pieces`` words, one per token, then the answer; it counts as it goes."""

    def __init__(self, pieces: int = 5, *, fail_after: int | None = None) -> None:
        self.pieces = pieces
        self.fail_after = fail_after
        self.calls = 0
        self.sent = 0
        self.release = asyncio.Event()
        self.release.set()

    def __call__(self, request: ModelRequest) -> "Run":
        self.calls += 1
        return Run(self, request)


class Run:
    def __init__(self, endpoint: StreamingEndpoint, request: ModelRequest) -> None:
        self._endpoint = endpoint
        self._request = request
        self._sent = 0

    def spent(self) -> Usage:
        return Usage(100, self._sent)

    async def __aiter__(self) -> AsyncIterator[StreamItem]:
        endpoint = self._endpoint
        yield ToolCalled("add", "call_1")
        for index in range(endpoint.pieces):
            if endpoint.fail_after is not None and index == endpoint.fail_after:
                error = PermanentModelError("invalid tool call: boom")
                error.usage = self.spent()
                raise error
            await endpoint.release.wait()
            self._sent += 1
            endpoint.sent += 1
            yield TextDelta(f"w{index} ")
        text = "".join(f"w{index} " for index in range(endpoint.pieces))
        yield ModelAnswer(text, Usage(100, endpoint.pieces), "gpt-4o-mini")


def streaming_gateway(store, clock, endpoint: StreamingEndpoint) -> ModelGateway:
    return make_gateway(store, clock, _no_plain_calls, stream_invoke=endpoint)


async def _no_plain_calls(request: ModelRequest) -> ModelAnswer:
    raise AssertionError("a streamed ask must not make a plain call")


async def collect(gateway: ModelGateway, request: ModelRequest) -> list[StreamItem]:
    return [item async for item in gateway.stream(request)]


async def test_pieces_then_the_priced_answer_billed_once(store, clock):
    endpoint = StreamingEndpoint(pieces=4)
    gateway = streaming_gateway(store, clock, endpoint)
    items = await collect(gateway, make_request())
    assert items[0] == ToolCalled("add", "call_1")
    assert [i.text for i in items[1:-1] if isinstance(i, TextDelta)] == ["w0 ", "w1 ", "w2 ", "w3 "]
    answer = items[-1]
    assert isinstance(answer, ModelAnswer) and not answer.cached
    assert answer.usage == Usage(100, 4)
    assert answer.cost == pytest.approx((100 * 1.0 + 4 * 2.0) / 1000)
    assert await store.get_usage("tenant:contoso", TODAY_OF(clock)) == (
        104,
        pytest.approx(answer.cost),
    )


async def test_a_cache_hit_is_one_delta_and_costs_nothing(store, clock):
    endpoint = StreamingEndpoint(pieces=3)
    gateway = streaming_gateway(store, clock, endpoint)
    first = await collect(gateway, make_request())
    again = await collect(gateway, make_request())
    assert endpoint.calls == 1
    assert again[0] == TextDelta(first[-1].text)  # type: ignore[union-attr]
    hit = again[-1]
    assert isinstance(hit, ModelAnswer) and hit.cached and hit.cost == 0
    assert hit.saved_cost > 0
    assert len(again) == 2


async def test_a_stream_stopped_early_is_billed_for_what_it_generated(store, clock):
    endpoint = StreamingEndpoint(pieces=50)
    gateway = streaming_gateway(store, clock, endpoint)
    stream = gateway.stream(make_request())
    received = 0
    async for item in stream:
        received += isinstance(item, TextDelta)
        if received == 3:
            break
    await stream.aclose()  # the client left
    assert endpoint.sent == 3
    assert await store.get_usage("tenant:contoso", TODAY_OF(clock)) == (
        103,
        pytest.approx((100 * 1.0 + 3 * 2.0) / 1000),
    )


async def test_a_cancelled_stream_is_billed_too(store, clock):
    endpoint = StreamingEndpoint(pieces=50)
    gateway = streaming_gateway(store, clock, endpoint)
    two = asyncio.Event()

    async def consume() -> None:
        count = 0
        async for item in gateway.stream(make_request()):
            count += isinstance(item, TextDelta)
            if count == 2:
                endpoint.release.clear()  # the model stalls: the client gives up
                two.set()

    task = asyncio.create_task(consume())
    await two.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(10):  # the shielded bill finishes in its own task
        await asyncio.sleep(0)
    assert await store.get_usage("tenant:contoso", TODAY_OF(clock)) == (102, pytest.approx(0.104))


async def test_a_failure_mid_stream_carries_its_usage_and_cost(store, clock):
    endpoint = StreamingEndpoint(pieces=5, fail_after=2)
    gateway = streaming_gateway(store, clock, endpoint)
    seen: list[StreamItem] = []
    with pytest.raises(PermanentModelError) as caught:
        async for item in gateway.stream(make_request()):
            seen.append(item)
    assert len(seen) == 3  # the tool call and two deltas went out before it failed
    assert caught.value.usage == Usage(100, 2)
    assert caught.value.cost == pytest.approx(0.104)
    assert await store.get_usage("tenant:contoso", TODAY_OF(clock)) == (102, pytest.approx(0.104))
