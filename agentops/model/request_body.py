"""Chat completion requests without the SDK's per-request type walk.

``AsyncCompletions.create`` passes every request's parameters through the SDK's transform, which
walks each of them, each message and each tool schema against the TypedDict unions of the
parameter types, to rename aliased keys, format dates, dump pydantic models and turn iterables
into lists. Agent Framework hands it plain JSON: dicts, lists, strings and numbers, which the
transform returns unchanged, minus the omitted parameters, after about a third of a millisecond
per request (more with tools).

``PlainBodyCompletions.create`` learns, from the SDK itself, what ``create`` posts for one set of
parameters: it runs the SDK's ``create`` once with ``_post`` replaced by a recorder, and keeps the
order of the body's keys, the path, the response types and the request options. Later requests
with the same set of parameters post the same thing without the walk. The SDK's own path stays in
use when:

- the request is streamed, or a parameter is not plain JSON (dict with string keys, list, str,
  int, float, bool, None): there the transform may have something to do;
- the SDK's transform changed that first request's body (a renamed key, a formatted value), or
  its request options differ from the ones rebuilt here: that set of parameters keeps the SDK's
  path for good;
- the installed SDK is not ``VERIFIED_SDK_VERSION``, the one the check below ran against.

The check is ``tests/agentops/model/test_request_body.py``: for every agent in ``agents.yaml``
(tool calls and tool results included) it sends the same requests through both paths and
requires the same URL, headers and byte-identical bodies, and it fails when the installed SDK is
not ``VERIFIED_SDK_VERSION``. Run it after an SDK upgrade, then move the version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import openai
from openai import AsyncOpenAI
from openai._base_client import make_request_options
from openai._types import not_given
from openai.resources.chat.completions import AsyncCompletions

logger = logging.getLogger(__name__)

VERIFIED_SDK_VERSION = "3.63.0"

# What create() takes besides the body's parameters.
_REQUEST_OPTIONS = ("extra_headers", "extra_query", "extra_body", "timeout")
_JSON_SCALARS = (str, int, float, bool, type(None))


def is_plain_json(value: Any) -> bool:
    """Only dicts with string keys, lists and JSON scalars, all the way down."""
    if isinstance(value, _JSON_SCALARS):
        return True
    if type(value) is dict:
        return all(type(key) is str and is_plain_json(item) for key, item in value.items())
    if type(value) is list:
        return all(is_plain_json(item) for item in value)
    return False


@dataclass(frozen=True, slots=True)
class _Post:
    """What the SDK's create() posts for one set of parameters, but the body's values."""

    path: str
    order: tuple[str, ...]
    cast_to: Any
    stream_cls: Any


class _Recorded(Exception):
    """Stops the SDK's create() at its post, once the arguments are recorded."""

    def __init__(self, path: str, body: Any, kwargs: dict[str, Any]) -> None:
        super().__init__(path)
        self.path, self.body, self.kwargs = path, body, kwargs


class PlainBodyCompletions(AsyncCompletions):
    """``AsyncCompletions`` whose ``create`` skips the type walk where it changes nothing."""

    def __init__(self, client: AsyncOpenAI) -> None:
        super().__init__(client)
        self._posts: dict[tuple[frozenset[str], frozenset[str]], _Post | None] = {}

    async def create(self, **params: Any) -> Any:  # type: ignore[override]
        body = {key: value for key, value in params.items() if key not in _REQUEST_OPTIONS}
        if body.get("stream") or not is_plain_json(body):
            return await super().create(**params)
        shape = (frozenset(body), frozenset(params) - frozenset(body))
        if shape not in self._posts:
            self._posts[shape] = await self._learn(params, body)
        post = self._posts[shape]
        if post is None:
            return await super().create(**params)
        return await self._post(
            post.path,
            body={key: body[key] for key in post.order},
            options=_options(params),
            cast_to=post.cast_to,
            stream=False,
            stream_cls=post.stream_cls,
        )

    async def _learn(self, params: dict[str, Any], body: dict[str, Any]) -> _Post | None:
        """What the SDK's create() posts for ``params``; None where this path would differ."""
        sdk = AsyncCompletions(self._client)

        async def record(path: str, *, body: Any = None, **kwargs: Any) -> Any:
            raise _Recorded(path, body, kwargs)

        sdk._post = record  # type: ignore[method-assign]
        try:
            await sdk.create(**params)
        except _Recorded as recorded:
            same = (
                recorded.body == body
                and recorded.kwargs.get("options") == _options(params)
                and recorded.kwargs.get("stream") is False
            )
            if same:
                return _Post(
                    path=recorded.path,
                    order=tuple(recorded.body),
                    cast_to=recorded.kwargs["cast_to"],
                    stream_cls=recorded.kwargs.get("stream_cls"),
                )
        except TypeError:  # parameters create() does not take: its own call will say so
            return None
        logger.info("chat parameters %s: the SDK builds their requests", sorted(body))
        return None


def _options(params: dict[str, Any]) -> Any:
    """The request options create() builds from the same arguments."""
    return make_request_options(
        extra_headers=params.get("extra_headers"),
        extra_query=params.get("extra_query"),
        extra_body=params.get("extra_body"),
        timeout=params.get("timeout", not_given),
        security={"bearer_auth": True},
    )


def sdk_is_verified(otherwise: str) -> bool:
    """Whether the installed SDK is the one this package's shortcuts were checked against;
    logs what happens ``otherwise`` when it is not."""
    if openai.__version__ == VERIFIED_SDK_VERSION:
        return True
    logger.info("openai %s is not %s: %s", openai.__version__, VERIFIED_SDK_VERSION, otherwise)
    return False


def skip_type_walk(client: AsyncOpenAI, *, force: bool = False) -> bool:
    """Have ``client.chat.completions`` skip the walk where it changes nothing; False (and the
    SDK's own path) when the installed SDK is not the verified one, unless ``force``."""
    if not force and not sdk_is_verified("the SDK builds request bodies"):
        return False
    # `chat` and `completions` are cached properties: the instance attribute takes their place.
    client.chat.completions = PlainBodyCompletions(client)  # type: ignore[misc]
    return True
