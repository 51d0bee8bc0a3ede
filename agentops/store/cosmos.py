"""The store in Azure Cosmos DB for NoSQL (async SDK, key or Microsoft Entra ID credential).

The database and its containers come from infrastructure (`CONTAINERS` in containers.py); this
adapter never creates them. Containers, partition keys and the access pattern each serves:

- `runs`, partition `/run_id`, id = run_id. Point reads and replaces by run id on the request
  path (`GET /api/runs/{id}`, the orchestration's status updates). `list_runs` is the one
  cross-partition query (admin views; composite index tenant_id, created_at desc, id desc).
- `items`, partition `/run_id`, id = str(index). A run's items share one logical partition: bulk
  insert in transactional batches, point reads and conditional replaces per item (if-match etag:
  an item moves from pending to a terminal state once), pages ordered by index, and the counts,
  usage and cost of a run in one single-partition aggregate. Logical partitions hold 20 GB: a
  run of 10,000 items of 32 KB queries fits with room for the answers.
- `threads`, partition `/thread_id`, id = thread_id. One document per conversation, read and
  replaced whole with if-match; bounded to the last N messages so it stays far below 2 MB.
- `cache`, partition `/key`, id = key. Point reads and upserts; TTL is on (default -1) and every
  entry carries its own `ttl`, so Cosmos DB deletes expired entries. Reads also compare
  `expires_at` with the store's clock, so an entry is a miss from the moment it expires.
- `usage`, partition `/scope` ("tenant:acme", "agent:calc"), id = UTC day. Point reads, and a
  patch `incr` that adds tokens and cost atomically on the server under concurrency.
- `audit`, partition `/tenant_id`, id = zero-padded seq. Append-only creates (a taken id is a
  conflict, so a tenant's hash chain cannot fork), queries in seq order within one tenant.

Optimistic concurrency everywhere a document is read and then replaced: if-match on the etag,
re-read and retry on 412.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from azure.core import MatchConditions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError
from azure.cosmos import exceptions
from azure.cosmos.aio import ContainerProxy, CosmosClient

from agentops.store.checks import (
    check_amounts,
    check_index,
    check_key,
    check_limit,
    check_messages,
    check_owner,
    check_queries,
    check_text_field,
    check_texts,
    check_ttl,
    day_id,
    decode_cursor,
    encode_cursor,
)
from agentops.store.containers import COLLECTIONS, check_collection
from agentops.store.errors import (
    AuditConflictError,
    ConcurrencyError,
    StoreError,
    StoreUnavailableError,
)
from agentops.store.records import (
    AuditEntry,
    Item,
    ItemCounts,
    ItemError,
    ItemOutcome,
    ItemStatus,
    ItemTotals,
    Message,
    Page,
    Run,
    Thread,
    ThreadOwner,
    Usage,
    appended_thread,
    apply_run_changes,
    cache_doc,
    dt_from_doc,
    dt_to_doc,
    retexted_thread,
    seq_id,
    usage_doc,
    utc,
)

logger = logging.getLogger(__name__)

_SYSTEM_PROPERTIES = ("_rid", "_self", "_etag", "_attachments", "_ts", "_lsn")
_BATCH_SIZE = 100  # the service's limit of operations per transactional batch
_MAX_CONCURRENCY = 16  # requests in flight for one bulk call
_MAX_RETRIES = 32  # optimistic-concurrency rounds before giving up

_ITEM_TOTALS_QUERY = (
    "SELECT SUM(c.status = 'pending' ? 1 : 0) AS pending, "
    "SUM(c.status = 'completed' ? 1 : 0) AS completed, "
    "SUM(c.status = 'failed' ? 1 : 0) AS failed, "
    "SUM(c.usage.prompt_tokens) AS prompt_tokens, "
    "SUM(c.usage.completion_tokens) AS completion_tokens, "
    "SUM(c.cost) AS cost, "
    "SUM(c.cached ? 1 : 0) AS cached, "
    "SUM(c.saved_cost) AS saved_cost "
    "FROM c WHERE c.run_id = @run_id"
)


# Throttled (after the SDK's own retries), timed out, or the service is briefly unavailable.
_TRANSIENT_STATUSES = frozenset({408, 429, 449, 500, 502, 503, 504})


def _remote[**P, T](method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Turn SDK failures that escape a method into the store's own errors."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except AzureError as exc:
            raise _translate(exc) from exc

    return wrapper


def _translate(exc: AzureError) -> StoreError:
    status = getattr(exc, "status_code", None)
    if status is None or status in _TRANSIENT_STATUSES:
        return StoreUnavailableError(f"cosmos db: {status or type(exc).__name__}: {exc.message}")
    return StoreError(f"cosmos db: {status}: {exc.message}")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _strip(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _SYSTEM_PROPERTIES}


def _params(**values: Any) -> list[dict[str, Any]]:
    return [{"name": f"@{name}", "value": value} for name, value in values.items()]


class CosmosStore:
    """The repository port on Azure Cosmos DB. See the module docstring for the data layout.

    `credential` is an account key or an async token credential (managed identity); the caller
    owns a token credential and closes it after `close()`. Leave endpoint discovery on for Azure;
    turn it off for a single-endpoint server such as the local one used in tests.
    """

    def __init__(
        self,
        endpoint: str,
        credential: str | AsyncTokenCredential,
        database: str,
        *,
        enable_endpoint_discovery: bool = True,
        clock: Callable[[], datetime] = _utcnow,
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

    # -- plumbing --------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self._container("runs")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def _container(self, name: str) -> ContainerProxy:
        if self._closed:
            raise StoreError("the store is closed")
        if not self._containers:
            async with self._open_lock:
                if not self._containers:
                    # Built here, inside the event loop, because the client's session needs one.
                    client = CosmosClient(
                        self._endpoint,
                        self._credential,
                        enable_endpoint_discovery=self._enable_endpoint_discovery,
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

    def _now(self) -> datetime:
        return utc(self._clock())

    async def _read(self, name: str, doc_id: str, partition_key: str) -> dict[str, Any] | None:
        container = await self._container(name)
        try:
            return await container.read_item(doc_id, partition_key=partition_key)
        except exceptions.CosmosResourceNotFoundError:
            return None

    async def _query(
        self, name: str, query: str, partition_key: str | None, **params: Any
    ) -> list[dict[str, Any]]:
        container = await self._container(name)
        if partition_key is None:
            pages = container.query_items(query, parameters=_params(**params))
        else:
            pages = container.query_items(
                query, parameters=_params(**params), partition_key=partition_key
            )
        return [doc async for doc in pages]

    async def _replace_loop[T](
        self,
        name: str,
        doc_id: str,
        partition_key: str,
        change: Callable[[dict[str, Any] | None], tuple[dict[str, Any] | None, T]],
    ) -> T:
        """Read, change, write with if-match; on 412 (or a racing create) read again.

        `change` gets the current document (None if missing) and returns the document to write
        (None: write nothing) and the result to return.
        """
        container = await self._container(name)
        for _ in range(_MAX_RETRIES):
            current = await self._read(name, doc_id, partition_key)
            new_doc, result = change(None if current is None else _strip(current))
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
        raise ConcurrencyError(f"{name}/{doc_id} kept changing; gave up after {_MAX_RETRIES} tries")

    # -- runs ------------------------------------------------------------------------------
    @_remote
    async def create_run(self, run: Run) -> bool:
        check_key("run_id", run.run_id)
        check_key("tenant_id", run.tenant_id)
        container = await self._container("runs")
        try:
            await container.create_item(run.to_doc())
        except exceptions.CosmosResourceExistsError:
            return False
        return True

    @_remote
    async def get_run(self, run_id: str) -> Run | None:
        check_key("run_id", run_id)
        doc = await self._read("runs", run_id, run_id)
        return None if doc is None else Run.from_doc(doc)

    @_remote
    async def update_run(self, run_id: str, **changes: Any) -> Run:
        check_key("run_id", run_id)
        now = self._now()

        def change(doc: dict[str, Any] | None) -> tuple[dict[str, Any], Run]:
            if doc is None:
                raise KeyError(f"run {run_id} does not exist")
            updated = apply_run_changes(Run.from_doc(doc), changes, now)
            return updated.to_doc(), updated

        return await self._replace_loop("runs", run_id, run_id, change)

    @_remote
    async def list_runs(
        self, tenant_id: str | None, *, limit: int = 50, continuation: str | None = None
    ) -> Page[Run]:
        if tenant_id is not None:
            check_key("tenant_id", tenant_id)
        check_limit(limit)
        where: list[str] = []
        params: dict[str, Any] = {"n": limit + 1}
        if tenant_id is not None:
            where.append("c.tenant_id = @tenant_id")
            params["tenant_id"] = tenant_id
        if continuation:
            created_at, run_id = decode_cursor(continuation, 2)
            where.append("(c.created_at < @at OR (c.created_at = @at AND c.id < @id))")
            params.update(at=created_at, id=run_id)
        query = "SELECT TOP @n * FROM c"
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY c.created_at DESC, c.id DESC"
        docs = await self._query("runs", query, None, **params)
        more = len(docs) > limit
        docs = docs[:limit]
        token = encode_cursor(docs[-1]["created_at"], docs[-1]["run_id"]) if more else None
        return Page([Run.from_doc(doc) for doc in docs], token)

    # -- items -----------------------------------------------------------------------------
    @_remote
    async def add_items(self, run_id: str, queries: Sequence[str]) -> int:
        check_key("run_id", run_id)
        check_queries(queries)
        container = await self._container("items")
        # One single-partition scan of the ids makes a repeated call cost reads, not failed writes.
        query = "SELECT VALUE c.index FROM c WHERE c.run_id = @run_id"
        existing = set(await self._query("items", query, run_id, run_id=run_id))
        docs = [Item(run_id, i, q).to_doc() for i, q in enumerate(queries) if i not in existing]
        limiter = asyncio.Semaphore(_MAX_CONCURRENCY)

        async def create_one(doc: dict[str, Any]) -> int:
            async with limiter:
                try:
                    await container.create_item(doc)
                except exceptions.CosmosResourceExistsError:
                    return 0
                return 1

        async def create_chunk(chunk: list[dict[str, Any]]) -> int:
            async with limiter:
                try:
                    # All-or-nothing: a chunk either lands whole or, if any item exists
                    # (a repeated call), falls back to one create per item below.
                    await container.execute_item_batch(
                        [("create", (doc,)) for doc in chunk], partition_key=run_id
                    )
                    return len(chunk)
                except exceptions.CosmosBatchOperationError as exc:
                    if exc.status_code != 409:
                        raise
            return sum(await asyncio.gather(*(create_one(doc) for doc in chunk)))

        chunks = [docs[i : i + _BATCH_SIZE] for i in range(0, len(docs), _BATCH_SIZE)]
        return sum(await asyncio.gather(*(create_chunk(chunk) for chunk in chunks)))

    @_remote
    async def get_items(self, run_id: str, indexes: Iterable[int]) -> list[Item]:
        check_key("run_id", run_id)
        wanted = sorted({check_index(i) for i in indexes})
        if not wanted:
            return []
        docs = await self._query(
            "items",
            "SELECT * FROM c WHERE c.run_id = @run_id AND ARRAY_CONTAINS(@indexes, c.index)",
            run_id,
            run_id=run_id,
            indexes=wanted,
        )
        return sorted((Item.from_doc(doc) for doc in docs), key=lambda item: item.index)

    @_remote
    async def complete_item(self, run_id: str, index: int, outcome: ItemOutcome) -> bool:
        check_key("run_id", run_id)
        check_index(index)
        if not isinstance(outcome, ItemOutcome):
            raise TypeError("outcome must be an ItemOutcome")
        now = self._now()

        def change(doc: dict[str, Any] | None) -> tuple[dict[str, Any] | None, bool]:
            if doc is None:
                raise KeyError(f"item {index} of run {run_id} does not exist")
            item = Item.from_doc(doc)
            if item.status is not ItemStatus.PENDING:
                return None, False
            return item.completed_with(outcome, now).to_doc(), True

        return await self._replace_loop("items", str(index), run_id, change)

    @_remote
    async def record_attempt(self, run_id: str, index: int, error: ItemError) -> int:
        check_key("run_id", run_id)
        check_index(index)
        if not isinstance(error, ItemError):
            raise TypeError("error must be an ItemError")

        def change(doc: dict[str, Any] | None) -> tuple[dict[str, Any] | None, int]:
            if doc is None:
                raise KeyError(f"item {index} of run {run_id} does not exist")
            if doc["status"] != ItemStatus.PENDING:
                return None, int(doc["attempts"])
            attempts = int(doc["attempts"]) + 1
            return {**doc, "attempts": attempts, "error": error.to_doc()}, attempts

        return await self._replace_loop("items", str(index), run_id, change)

    @_remote
    async def list_items(
        self, run_id: str, *, after_index: int | None = None, limit: int = 100
    ) -> tuple[list[Item], int | None]:
        check_key("run_id", run_id)
        check_limit(limit)
        after = -1 if after_index is None else check_index(after_index)
        docs = await self._query(
            "items",
            "SELECT TOP @n * FROM c WHERE c.run_id = @run_id AND c.index > @after ORDER BY c.index",
            run_id,
            n=limit + 1,
            run_id=run_id,
            after=after,
        )
        items = [Item.from_doc(doc) for doc in docs]
        more = len(items) > limit
        items = items[:limit]
        return items, (items[-1].index if more else None)

    @_remote
    async def item_totals(self, run_id: str) -> ItemTotals:
        check_key("run_id", run_id)
        rows = await self._query("items", _ITEM_TOTALS_QUERY, run_id, run_id=run_id)
        row = rows[0] if rows else {}
        return ItemTotals(
            ItemCounts(
                int(row.get("pending") or 0),
                int(row.get("completed") or 0),
                int(row.get("failed") or 0),
            ),
            Usage(int(row.get("prompt_tokens") or 0), int(row.get("completion_tokens") or 0)),
            float(row.get("cost") or 0.0),
            cached=int(row.get("cached") or 0),
            saved_cost=float(row.get("saved_cost") or 0.0),
        )

    @_remote
    async def swap_item_text(
        self, run_id: str, index: int, field: str, expected: str, new: str
    ) -> bool:
        check_key("run_id", run_id)
        check_index(index)
        check_text_field(field, expected, new)

        def change(doc: dict[str, Any] | None) -> tuple[dict[str, Any] | None, bool]:
            if doc is None:
                raise KeyError(f"item {index} of run {run_id} does not exist")
            if doc.get(field) != expected:
                return None, False
            return {**doc, field: new}, True

        return await self._replace_loop("items", str(index), run_id, change)

    # -- threads ---------------------------------------------------------------------------
    @_remote
    async def get_thread(self, thread_id: str) -> Thread | None:
        check_key("thread_id", thread_id)
        doc = await self._read("threads", thread_id, thread_id)
        return None if doc is None else Thread.from_doc(doc)

    @_remote
    async def append_messages(
        self,
        thread_id: str,
        owner: ThreadOwner,
        messages: Sequence[Message],
        max_messages: int,
        *,
        encrypted: bool = False,
        expected_version: int | None = None,
    ) -> Thread:
        check_key("thread_id", thread_id)
        check_owner(owner)
        new = check_messages(messages, max_messages)
        now = self._now()

        def change(doc: dict[str, Any] | None) -> tuple[dict[str, Any], Thread]:
            current = None if doc is None else Thread.from_doc(doc)
            version = current.version if current else 0
            if expected_version is not None and expected_version != version:
                raise ConcurrencyError(
                    f"thread {thread_id} is at version {version}, not {expected_version}"
                )
            thread = appended_thread(
                current, thread_id, owner, new, max_messages, now, encrypted=encrypted
            )
            return thread.to_doc(), thread

        return await self._replace_loop("threads", thread_id, thread_id, change)

    @_remote
    async def replace_message_texts(
        self, thread_id: str, texts: Sequence[str], *, expected_version: int
    ) -> Thread:
        check_key("thread_id", thread_id)
        new_texts = check_texts(texts)
        now = self._now()

        def change(doc: dict[str, Any] | None) -> tuple[dict[str, Any], Thread]:
            if doc is None:
                raise KeyError(f"thread {thread_id} does not exist")
            thread = retexted_thread(Thread.from_doc(doc), new_texts, expected_version, now)
            return thread.to_doc(), thread

        return await self._replace_loop("threads", thread_id, thread_id, change)

    # -- cache -----------------------------------------------------------------------------
    @_remote
    async def cache_get(self, key: str) -> dict[str, Any] | None:
        check_key("cache key", key)
        doc = await self._read("cache", key, key)
        if doc is None:
            return None
        expires_at = dt_from_doc(doc.get("expires_at"))
        if expires_at is None or expires_at <= self._now():
            return None  # Cosmos DB deletes it in the background
        return dict(doc["value"])

    @_remote
    async def cache_put(self, key: str, value: dict[str, Any], ttl_s: int) -> None:
        check_key("cache key", key)
        check_ttl(ttl_s)
        if not isinstance(value, dict):
            raise TypeError("cache value must be a dict")
        container = await self._container("cache")
        now = self._now()
        await container.upsert_item(cache_doc(key, value, now + timedelta(seconds=ttl_s), ttl_s))

    # -- usage counters --------------------------------------------------------------------
    @_remote
    async def add_usage(self, scope: str, day: date, tokens: int, cost: float) -> tuple[int, float]:
        check_key("scope", scope)
        check_amounts(tokens, cost)
        day_key = day_id(day)
        container = await self._container("usage")
        operations = [
            {"op": "incr", "path": "/tokens", "value": tokens},
            {"op": "incr", "path": "/cost", "value": float(cost)},
        ]
        for _ in range(_MAX_RETRIES):
            try:
                doc = await container.patch_item(day_key, scope, patch_operations=operations)
                return int(doc["tokens"]), float(doc["cost"])
            except exceptions.CosmosResourceNotFoundError:
                pass
            try:
                doc = await container.create_item(usage_doc(scope, day_key, tokens, float(cost)))
                return int(doc["tokens"]), float(doc["cost"])
            except exceptions.CosmosResourceExistsError:
                continue  # created concurrently: the next patch finds it
        raise ConcurrencyError(f"usage/{scope}/{day_key}: gave up after {_MAX_RETRIES} tries")

    @_remote
    async def get_usage(self, scope: str, day: date) -> tuple[int, float]:
        check_key("scope", scope)
        doc = await self._read("usage", day_id(day), scope)
        return (0, 0.0) if doc is None else (int(doc["tokens"]), float(doc["cost"]))

    # -- audit -----------------------------------------------------------------------------
    @_remote
    async def append_audit(self, entry: AuditEntry) -> bool:
        check_key("tenant_id", entry.tenant_id)
        check_key("audit entry id", entry.id)
        container = await self._container("audit")
        try:
            await container.create_item(entry.to_doc())
            return True
        except exceptions.CosmosResourceExistsError:
            existing = await self._read("audit", seq_id(entry.seq), entry.tenant_id)
            if existing is not None and existing.get("entry_id") == entry.id:
                return False
            raise AuditConflictError(entry.tenant_id, entry.seq) from None

    @_remote
    async def last_audit(self, tenant_id: str) -> AuditEntry | None:
        check_key("tenant_id", tenant_id)
        docs = await self._query(
            "audit",
            "SELECT TOP 1 * FROM c WHERE c.tenant_id = @tenant_id ORDER BY c.seq DESC",
            tenant_id,
            tenant_id=tenant_id,
        )
        return AuditEntry.from_doc(docs[0]) if docs else None

    @_remote
    async def list_audit(
        self,
        tenant_id: str,
        *,
        since: datetime | None = None,
        limit: int = 100,
        continuation: str | None = None,
    ) -> Page[AuditEntry]:
        check_key("tenant_id", tenant_id)
        check_limit(limit)
        after = int(decode_cursor(continuation, 1)[0]) if continuation else -1
        docs = await self._query(
            "audit",
            "SELECT TOP @n * FROM c WHERE c.tenant_id = @tenant_id AND c.seq > @after "
            "AND c.at >= @since ORDER BY c.seq",
            tenant_id,
            n=limit + 1,
            tenant_id=tenant_id,
            after=after,
            since=dt_to_doc(since) if since is not None else "",
        )
        entries = [AuditEntry.from_doc(doc) for doc in docs]
        more = len(entries) > limit
        entries = entries[:limit]
        return Page(entries, encode_cursor(entries[-1].seq) if more else None)

    # -- backup ----------------------------------------------------------------------------
    async def iter_collection(self, name: str) -> AsyncIterator[dict[str, Any]]:
        check_collection(name)
        container = await self._container(name)
        try:
            async for doc in container.read_all_items():
                yield _strip(doc)
        except AzureError as exc:
            raise _translate(exc) from exc

    @_remote
    async def restore_documents(self, name: str, docs: Iterable[dict[str, Any]]) -> int:
        check_collection(name)
        container = await self._container(name)
        batch = [_strip(doc) for doc in docs]
        for doc in batch:
            if not isinstance(doc.get("id"), str):
                raise ValueError(f"a {name} document has no string id")
        limiter = asyncio.Semaphore(_MAX_CONCURRENCY)

        async def upsert(doc: dict[str, Any]) -> None:
            async with limiter:
                await container.upsert_item(doc)

        await asyncio.gather(*(upsert(doc) for doc in batch))
        return len(batch)
