"""An embedding cache in Redis keyed by model and content hash; Redis failures only cost a recompute.

Embedders that compute a vector faster than a Redis round trip (the hashing embedder: ~50 us) set
`worth_caching = False` and bypass it: caching them cost two round trips per call and ~1.5 KB of Redis
memory per stored turn.

Under `AsyncAgentMemory` (in the asyncio bridge) an embedder with an asyncio path (`AsyncEmbedder`: the
OpenAI one) is awaited on the event loop, so an HTTP request never blocks the loop.
"""

import logging
import struct
from collections.abc import Sequence
from typing import cast

import redis

from memory_runtime import metrics, tracing
from memory_runtime.domain.ids import content_hash
from memory_runtime.embeddings.base import AsyncEmbedder, Embedder, check_dimensions
from memory_runtime.stores import bridge
from memory_runtime.stores.redis import RedisStore

log = logging.getLogger(__name__)


class CachedEmbedder:
    """Wraps an embedder; vectors are cached as packed float32 with a TTL."""

    def __init__(self, inner: Embedder, store: RedisStore | None, ttl_s: int) -> None:
        self.inner = inner
        self.dimensions = inner.dimensions
        self.model_id = inner.model_id
        self._store = store
        self._ttl = ttl_s
        self.hits = 0
        self.misses = 0
        self._asynchronous = isinstance(inner, AsyncEmbedder)
        # as costly as the embedder it wraps: callers that skip work for cheap embedders ask this one
        self.worth_caching: bool = getattr(inner, "worth_caching", True)

    def _key(self, text: str) -> str:
        assert self._store is not None
        return self._store.key("emb", self.model_id, content_hash(text))

    @tracing.traced("embed", result=lambda vectors: {"memory.texts": len(vectors)})
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors for `texts`, from the cache where possible; checked for dimension and finiteness."""
        texts = list(texts)
        if not texts:
            return []
        if not self.worth_caching:  # cheaper to compute than one Redis round trip
            return [check_dimensions(v, self.dimensions, f"{self.model_id} embedding") for v in self._compute(texts)]
        cached: list[bytes | None] = [None] * len(texts)
        if self._store is not None and self._ttl > 0:
            try:
                # undecoded client: the values are bytes (redis-py types them bytes | str)
                cached = cast(list[bytes | None], self._store.client.mget([self._key(t) for t in texts]))
            except redis.RedisError as exc:
                log.warning("embedding cache unavailable, computing vectors: %s", exc)
        fmt = f"<{self.dimensions}f"
        size = 4 * self.dimensions
        out: list[list[float] | None] = [
            list(struct.unpack(fmt, raw)) if raw and len(raw) == size else None for raw in cached
        ]
        missing = [i for i, v in enumerate(out) if v is None]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        metrics.cache_result(len(texts) - len(missing), len(missing))
        if missing:
            fresh = self._compute([texts[i] for i in missing])
            for i, vec in zip(missing, fresh, strict=True):
                out[i] = check_dimensions(vec, self.dimensions, f"{self.model_id} embedding")
            self._store_vectors({texts[i]: v for i in missing if (v := out[i]) is not None})
        return cast(list[list[float]], out)  # every slot is filled now: from the cache, or computed above

    def _compute(self, texts: list[str]) -> list[list[float]]:
        """The inner embedder's vectors: awaited on the event loop in the asyncio bridge when it can be."""
        if self._asynchronous and bridge.in_bridge():
            return bridge.await_io(cast(AsyncEmbedder, self.inner).aembed(texts))
        return self.inner.embed(texts)

    def _store_vectors(self, vectors: dict[str, list[float]]) -> None:
        if self._store is None or self._ttl <= 0:
            return
        fmt = f"<{self.dimensions}f"
        try:
            pipe = self._store.client.pipeline(transaction=False)
            for text, vec in vectors.items():
                pipe.set(self._key(text), struct.pack(fmt, *vec), ex=self._ttl)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("embedding cache write failed (vectors still used): %s", exc)
