"""One Cosmos DB client and database, shared by the store's parts.

The client is built on first use, inside the event loop (its session needs one). Optimistic
concurrency everywhere a document is read and then replaced: if-match on the etag, re-read and
retry on 412 (`modify`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError
from azure.core.pipeline.transport import AioHttpTransport
from azure.cosmos import exceptions
from azure.cosmos.aio import ContainerProxy, CosmosClient

from agentops.store.changes import Change
from agentops.store.checks import check_key
from agentops.store.containers import COLLECTIONS
from agentops.store.errors import ConcurrencyError, StoreError, StoreUnavailableError
from agentops.store.records import utc

logger = logging.getLogger(__name__)

_SYSTEM_PROPERTIES = ("_rid", "_self", "_etag", "_attachments", "_ts", "_lsn")
MAX_CONCURRENCY = 16  # requests in flight for one bulk call
MAX_RETRIES = 32  # optimistic-concurrency rounds before giving up

# Throttled (after the SDK's own retries), timed out, or the service is briefly unavailable.
_TRANSIENT_STATUSES = frozenset({408, 429, 449, 500, 502, 503, 504})


def environment_configures_http() -> bool:
    """Whether the environment names a proxy (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY) or a netrc file.

    Trusting the environment, aiohttp looks both up on every request, in two thread-pool
    hand-offs: about a quarter of a point operation's CPU against the local server. The
    client trusts it only when there is something to find, decided once when it is built.
    """
    if urllib.request.getproxies_environment():
        return True
    netrc = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    return os.path.isfile(netrc)


def remote[**P, T](method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Turn SDK failures that escape a method into the store's own errors."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except AzureError as exc:
            raise translate(exc) from exc

    return wrapper


def translate(exc: AzureError) -> StoreError:
    status = getattr(exc, "status_code", None)
    if status is None or status in _TRANSIENT_STATUSES:
        return StoreUnavailableError(f"cosmos db: {status or type(exc).__name__}: {exc.message}")
    return StoreError(f"cosmos db: {status}: {exc.message}")


def strip(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _SYSTEM_PROPERTIES}


def _params(**values: Any) -> list[dict[str, Any]]:
    return [{"name": f"@{name}", "value": value} for name, value in values.items()]


class CosmosConnection:
    def __init__(
        self,
        endpoint: str,
        credential: str | AsyncTokenCredential,
        database: str,
        *,
        enable_endpoint_discovery: bool,
        clock: Callable[[], datetime],
    ) -> None:
        if not endpoint.startswith(("https://", "http://")):
            raise ValueError("endpoint must be an http(s) URL")
        check_key("database", database)
        self._endpoint = endpoint
        self._credential = credential
        self._database = database
        self._enable_endpoint_discovery = enable_endpoint_discovery
        self._clock = clock
        self._client: CosmosClient | None = None
        self._containers: dict[str, ContainerProxy] = {}
        self._open_lock = asyncio.Lock()
        self._closed = False

    async def open(self) -> None:
        await self.container("runs")

    async def close(self) -> None:
        self._closed = True
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def container(self, name: str) -> ContainerProxy:
        if self._closed:
            raise StoreError("the store is closed")
        if not self._containers:
            async with self._open_lock:
                if not self._containers:
                    client = CosmosClient(
                        self._endpoint,
                        self._credential,
                        enable_endpoint_discovery=self._enable_endpoint_discovery,
                        transport=AioHttpTransport(use_env_settings=environment_configures_http()),
                    )
                    try:
                        await client.__aenter__()  # reads the account (regions, consistency)
                    except BaseException:
                        await client.close()
                        raise
                    database = client.get_database_client(self._database)
                    self._client = client
                    self._containers = {n: database.get_container_client(n) for n in COLLECTIONS}
        return self._containers[name]

    def now(self) -> datetime:
        return utc(self._clock())

    async def read(self, name: str, doc_id: str, partition_key: str) -> dict[str, Any] | None:
        container = await self.container(name)
        try:
            return await container.read_item(doc_id, partition_key=partition_key)
        except exceptions.CosmosResourceNotFoundError:
            return None

    async def query(
        self, name: str, query: str, partition_key: str | None, **params: Any
    ) -> list[dict[str, Any]]:
        container = await self.container(name)
        if partition_key is None:
            pages = container.query_items(query, parameters=_params(**params))
        else:
            pages = container.query_items(
                query, parameters=_params(**params), partition_key=partition_key
            )
        return [doc async for doc in pages]

    async def modify[T](self, name: str, doc_id: str, partition_key: str, change: Change[T]) -> T:
        """Read, change, write with if-match; on 412 (or a racing create) read again."""
        container = await self.container(name)
        for _ in range(MAX_RETRIES):
            current = await self.read(name, doc_id, partition_key)
            new_doc, result = change(None if current is None else strip(current))
            if new_doc is None:
                return result
            try:
                if current is None:
                    await container.create_item(new_doc)
                else:
                    await container.replace_item(
                        doc_id,
                        new_doc,
                        etag=current["_etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
                return result
            except (
                exceptions.CosmosAccessConditionFailedError,
                exceptions.CosmosResourceExistsError,
            ):
                logger.debug("concurrent change on %s/%s; retrying", name, doc_id)
        raise ConcurrencyError(f"{name}/{doc_id} kept changing; gave up after {MAX_RETRIES} tries")
