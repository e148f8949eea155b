"""Redis: working memory, the embedding cache, rate limits and job streams."""

from memory_runtime.stores.redis.client import RedisStore, as_str

__all__ = ["RedisStore", "as_str"]
