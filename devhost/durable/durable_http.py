"""Durable HTTP: what `context.call_http` asks of the host, run by the engine itself.

As in Azure, the call is a built-in activity (`BuiltIn::HttpActivity`): its input is the SDK's
DurableHttpRequest JSON (method, uri, content, headers, tokenSource), its result the response as
`{"statusCode", "headers", "content"}`. A response other than 2xx is a result, not a failure;
only a request that gets no response fails the task. With the asynchronous pattern (on unless
the request turns it off), a 202 with a Location header is polled with GETs to that location
until the answer is not 202, waiting Retry-After seconds between polls, or host.json's
`httpSettings.defaultAsyncRequestSleepTimeMilliseconds` without one. With time skipping the wait
moves the engine clock instead of taking wall-clock time, like a durable timer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin

import httpx

from .activities import ActivityOutcome
from .clock import EngineClock

logger = logging.getLogger(__name__)

HTTP_ACTIVITY = "BuiltIn::HttpActivity"
REQUEST_TIMEOUT_SECONDS = 100.0  # .NET HttpClient's default, which the extension keeps
MAX_POLLS = 10_000  # a bound, so that an endpoint that answers 202 forever cannot loop forever


class DurableHttpError(ValueError):
    """The request cannot be made as asked; the task fails with this message."""


def _failure(reason: str) -> ActivityOutcome:
    return ActivityOutcome(succeeded=False, reason=reason, details="")


def _request_fields(input_text: str | None) -> dict[str, Any]:
    try:
        request = json.loads(input_text) if input_text else None
    except json.JSONDecodeError as error:
        raise DurableHttpError(f"call_http: the request is not JSON: {error}") from error
    if not isinstance(request, dict) or not request.get("method") or not request.get("uri"):
        raise DurableHttpError("call_http: the request needs a method and a uri")
    if request.get("tokenSource"):
        source = request["tokenSource"]
        resource = source.get("resource") if isinstance(source, dict) else None
        raise DurableHttpError(
            "call_http with a token source (managed identity token for "
            f"{resource or 'a resource'}) is not supported by devhost: there is no managed "
            "identity locally. Pass the Authorization header yourself, or call the API from an "
            "activity."
        )
    return request


def _retry_after(response: httpx.Response, default: timedelta) -> timedelta:
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    return default


def _response_json(response: httpx.Response) -> dict[str, Any]:
    headers: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return {"statusCode": response.status_code, "headers": headers, "content": response.text}


class DurableHttp:
    """Runs BuiltIn::HttpActivity work items with one HTTP client for the engine's life."""

    def __init__(self, clock: EngineClock, *, time_skipping: bool, poll_interval_ms: int) -> None:
        self._clock = clock
        self._time_skipping = time_skipping
        self._poll_interval = timedelta(milliseconds=poll_interval_ms)
        self._client: httpx.AsyncClient | None = None

    async def call(self, input_text: str | None) -> ActivityOutcome:
        try:
            request = _request_fields(input_text)
        except DurableHttpError as error:
            return _failure(str(error))
        method = str(request["method"]).upper()
        uri = str(request["uri"])
        headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
        content = request.get("content")
        polling = request.get("asynchronousPatternEnabled", True) is not False
        try:
            response = await self._send(method, uri, headers, content)
            polls = 0
            while polling and response.status_code == 202 and "location" in response.headers:
                polls += 1
                if polls > MAX_POLLS:
                    return _failure(
                        f"call_http {method} {uri}: still 202 after {MAX_POLLS} polls of its "
                        "Location"
                    )
                await self._wait(_retry_after(response, self._poll_interval))
                uri = urljoin(uri, response.headers["location"])
                method = "GET"
                response = await self._send(method, uri, headers, None)
        except httpx.HTTPError as error:
            return _failure(f"call_http {method} {uri} failed: {type(error).__name__}: {error}")
        return ActivityOutcome(succeeded=True, result=json.dumps(_response_json(response)))

    async def _send(
        self, method: str, uri: str, headers: dict[str, str], content: Any
    ) -> httpx.Response:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=REQUEST_TIMEOUT_SECONDS, follow_redirects=False
            )
        body = content if content is None or isinstance(content, str) else json.dumps(content)
        return await self._client.request(method, uri, headers=headers, content=body)

    async def _wait(self, delay: timedelta) -> None:
        if self._time_skipping:
            self._clock.advance_to(self._clock.now() + delay)
            await asyncio.sleep(0)
            return
        await asyncio.sleep(delay.total_seconds())

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
