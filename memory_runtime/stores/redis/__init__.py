"""Redis: working memory, the embedding cache, rate limits and job streams."""

from memory_runtime.stores.redis.client import RedisStore

__all__ = ["RedisStore"]
