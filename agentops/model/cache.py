"""Response cache with a TTL on two levels: an in-process LRU and a shared level in the store.

The key digests the tenant, the agent and its definition's version, the deployment, the tools and
the normalised input (query and history, whitespace collapsed and case-folded), so a changed
agent never answers from an old entry. The tenant is part of the key although answers do not
depend on it: an agent's tools may read tenant data, and one tenant must never be served
another's answer.

An agent opts out with ``cache_ttl_s == 0``. Sensitive agents are cached only encrypted: with
AES-GCM under a key given to the cache, the cache key bound as associated data (an entry copied
under another key fails to decrypt), and the key itself an HMAC under a key derived from it, so the
store holds no plain digest of a sensitive query either. Without a key, sensitive agents are not
cached. AES-GCM rather than Fernet: it authenticates associated data, which Fernet cannot, and
it is faster; Fernet's embedded timestamp adds nothing since entries carry their own expiry.
Both levels hold the same value, so sensitive answers are not in memory in plain text either.

An entry names the item that produced it (``producer``, the gateway's ``item_key``; sealed with
the answer for sensitive agents). The answer's tokens were billed when it was produced, but the
item's outcome is written after the entry (another transaction, on Cosmos DB another container):
a crash between the two leaves the item pending with its answer in the cache. When that same item
runs again and finds its own entry, ``get`` hands the answer back as the item's own, with its
usage, not as a hit: the item is billed for it once, and nothing is reported as saved.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic_core import to_json

from agentops.encryption.keyring import open_bytes, seal_bytes
from agentops.model.types import ModelAnswer, ModelRequest, Usage
from agentops.store.ports import CacheStore
from agentops.store.records import CacheEntry

logger = logging.getLogger(__name__)

_KEY_FORMAT = "v1"
# How long a prefetch's "not there" stands for its key: about one model call, not longer.
_ABSENT_FOR_S = 60.0
# Requests whose keys are remembered: a batch's, each computed for the prefetch and again for
# its call, with room for the other batches of the process in between. Their batches hold
# them meanwhile anyway; at most this many are kept beyond that.
_KEYS_KEPT = 1024


@dataclass(slots=True)
class CacheStats:
    """This cache's own counts (which level hit); the metrics and prices are the gateway's."""

    local_hits: int = 0
    shared_hits: int = 0
    misses: int = 0
    stores: int = 0
    saved_tokens: int = 0
    by_agent: dict[str, int] = field(default_factory=dict)

    @property
    def hits(self) -> int:
        return self.local_hits + self.shared_hits


def normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


class ResponseCache:
    def __init__(
        self,
        shared: CacheStore | None,
        *,
        max_entries: int = 10_000,
        encryption_key: bytes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must not be negative")
        if encryption_key is not None and len(encryption_key) not in (16, 24, 32):
            raise ValueError("encryption_key must be 16, 24 or 32 bytes (AES-128/192/256)")
        self._shared = shared
        self._max = max_entries
        self._clock = clock
        self._aead = AESGCM(encryption_key) if encryption_key else None
        self._mac_key = (
            hmac.new(encryption_key, b"agentops cache key", hashlib.sha256).digest()
            if encryption_key
            else None
        )
        self._local: OrderedDict[str, dict[str, Any]] = OrderedDict()
        # Keys a prefetch did not find, until when that answer stands (taken by the next get).
        self._absent: OrderedDict[str, float] = OrderedDict()
        self._keys: dict[ModelRequest, str | None] = {}
        self.stats = CacheStats()

    def key(self, request: ModelRequest) -> str | None:
        """The entry's key, or None when this request must not be cached."""
        try:
            return self._keys[request]
        except KeyError:
            pass
        except TypeError:  # a request holding a list: unhashable, so not remembered
            return self._compute_key(request)
        if len(self._keys) >= _KEYS_KEPT:
            self._keys.clear()  # cheaper than ordering them: a batch's keys are soon made again
        key = self._keys[request] = self._compute_key(request)
        return key

    def _compute_key(self, request: ModelRequest) -> str | None:
        if request.cache_ttl_s <= 0:
            return None
        if request.sensitive and self._mac_key is None:
            return None
        # The bytes of json.dumps(separators=(",", ":"), ensure_ascii=False).encode() for any
        # text (requests refuse lone surrogates), so keys are unchanged; a third of the cost.
        material = to_json(
            [
                _KEY_FORMAT,
                request.tenant,
                request.agent,
                request.agent_version,
                request.deployment,
                sorted(request.tools),
                [[m.role, normalise(m.text)] for m in request.history],
                normalise(request.query),
            ]
        )
        if request.sensitive:
            assert self._mac_key is not None
            return "s:" + hmac.new(self._mac_key, material, hashlib.sha256).hexdigest()
        return "p:" + hashlib.sha256(material).hexdigest()

    async def get(
        self, request: ModelRequest, key: str | None = None, producer: str = ""
    ) -> ModelAnswer | None:
        """A hit (no usage, ``saved_usage`` set), the caller's own answer (``cached=False``, its
        usage: ``producer`` wrote the entry and never completed), or None."""
        key = key if key is not None else self.key(request)
        if key is None:
            return None
        now = self._clock()
        entry = self._local.get(key)
        level = "local"
        if entry is not None and entry["expires_at"] <= now:
            del self._local[key]
            entry = None
        # A prefetch that found no entry answers the first lookup of its key without the store.
        absent = self._absent.pop(key, None)
        if entry is None and absent is not None and absent > now:
            self.stats.misses += 1
            return None
        if entry is None and self._shared is not None:
            entry = await self._shared.cache_get(key)
            level = "shared"
            # The store may expire lazily: never serve past the entry's own expiry.
            if entry is not None and not entry.get("expires_at", 0) > now:
                entry = None
            if entry is not None:
                self._remember(key, entry)
        elif entry is not None:
            self._local.move_to_end(key)
        opened = self._open(key, entry) if entry is not None else None
        if opened is None:
            self.stats.misses += 1
            return None
        answer, made_by = opened
        if producer and made_by == producer:
            return replace(answer, cached=False)
        self._count_hit(request, answer, level)
        # Nothing was spent on this answer: its tokens are what the hit saved, not a cost.
        return ModelAnswer(
            answer.text,
            Usage(),
            answer.model,
            cached=True,
            model_calls=0,
            saved_usage=answer.usage,
        )

    async def prefetch(self, keys: Iterable[str]) -> None:
        """Read the shared entries of ``keys`` in one store round trip, for the gets that follow.

        Found entries join the local level; a key found absent is a miss for its next get only
        (within ``_ABSENT_FOR_S``), so a batch's lookups cost one query instead of one each. An
        entry written meanwhile by another process is missed once: a model call, never a wrong
        answer or a wrong bill.
        """
        if self._shared is None:
            return
        now = self._clock()
        wanted = [k for k in dict.fromkeys(keys) if self._local_entry(k, now) is None]
        if not wanted:
            return
        found = await self._shared.cache_get_many(wanted)
        for key in wanted:
            entry = found.get(key)
            if entry is not None and entry.get("expires_at", 0) > now:
                self._remember(key, entry)
            else:
                self._absent[key] = now + _ABSENT_FOR_S
                self._absent.move_to_end(key)
        while len(self._absent) > max(self._max, 1):
            self._absent.popitem(last=False)

    def entry(
        self, request: ModelRequest, answer: ModelAnswer, key: str, producer: str = ""
    ) -> CacheEntry:
        """The entry for ``answer``, remembered locally; the caller writes it to the store.

        ``producer`` names the item the answer is for (see the module docstring).
        """
        payload: dict[str, Any] = {
            "text": answer.text,
            "model": answer.model,
            "prompt_tokens": answer.usage.prompt_tokens,
            "completion_tokens": answer.usage.completion_tokens,
        }
        if producer:
            payload["producer"] = producer
        value: dict[str, Any] = {"expires_at": self._clock() + request.cache_ttl_s}
        if request.sensitive:
            assert self._aead is not None
            sealed = seal_bytes(self._aead, json.dumps(payload).encode(), key.encode())
            value["sealed"] = base64.b64encode(sealed).decode()
        else:
            value.update(payload)
        self._remember(key, value)
        self._absent.pop(key, None)
        self.stats.stores += 1
        return CacheEntry(key, value, request.cache_ttl_s)

    async def put(
        self,
        request: ModelRequest,
        answer: ModelAnswer,
        key: str | None = None,
        producer: str = "",
    ) -> None:
        """Store ``answer`` on both levels."""
        key = key if key is not None else self.key(request)
        if key is None:
            return
        entry = self.entry(request, answer, key, producer)
        if self._shared is not None:
            await self._shared.cache_put(entry.key, entry.value, entry.ttl_s)

    def _local_entry(self, key: str, now: float) -> dict[str, Any] | None:
        entry = self._local.get(key)
        return entry if entry is not None and entry["expires_at"] > now else None

    def _remember(self, key: str, entry: dict[str, Any]) -> None:
        if self._max == 0:
            return
        self._local[key] = entry
        self._local.move_to_end(key)
        while len(self._local) > self._max:
            self._local.popitem(last=False)

    def _open(self, key: str, entry: dict[str, Any]) -> tuple[ModelAnswer, str] | None:
        """The stored answer and the item that produced it ("" if none was named)."""
        payload: dict[str, Any] = entry
        if "sealed" in entry:
            if self._aead is None:
                return None
            try:
                plain = open_bytes(self._aead, base64.b64decode(entry["sealed"]), key.encode())
            except InvalidTag:
                # Written under another key (rotation) or tampered with: a miss, not an error.
                logger.warning("cache entry could not be decrypted; treating it as a miss")
                self._local.pop(key, None)
                return None
            payload = json.loads(plain)
        answer = ModelAnswer(
            text=payload["text"],
            usage=Usage(payload["prompt_tokens"], payload["completion_tokens"]),
            model=payload["model"],
            cached=True,
            model_calls=0,
        )
        return answer, str(payload.get("producer", ""))

    def _count_hit(self, request: ModelRequest, answer: ModelAnswer, level: str) -> None:
        stats = self.stats
        if level == "local":
            stats.local_hits += 1
        else:
            stats.shared_hits += 1
        stats.saved_tokens += answer.usage.total_tokens
        stats.by_agent[request.agent] = stats.by_agent.get(request.agent, 0) + 1
