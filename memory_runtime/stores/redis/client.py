"""Redis client: working memory, embedding cache, streams. One bounded pool; keys always prefixed."""

from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from memory_runtime.domain.errors import StoreUnavailableError
from memory_runtime.stores.redis import traced

_SETTING = "MEMORY_REDIS_URI"


def as_str(reply: bytes | str) -> str:
    """A reply as text: the client does not decode responses, so replies are UTF-8 bytes (a str passes through)."""
    return reply.decode() if isinstance(reply, bytes) else reply


RETRY_BACKOFF = ExponentialBackoff(cap=0.5, base=0.05)
RETRIES = 2


def pool_options(connect_timeout_s: float, max_connections: int) -> dict[str, Any]:
    """The connection pool settings of the sync and the asyncio client (bounded, blocking, timeouts)."""
    return {
        "max_connections": max_connections,
        "timeout": connect_timeout_s,
        "socket_connect_timeout": connect_timeout_s,
        "socket_timeout": connect_timeout_s,
    }


class RedisStore:
    """A namespaced Redis client. `key()` is the only way keys are built."""

    def __init__(self, uri: str, prefix: str = "mem", *, connect_timeout_s: float = 5.0, max_connections: int = 32):
        self.prefix = prefix
        self._pool = redis.BlockingConnectionPool.from_url(
            uri, **pool_options(connect_timeout_s, max_connections), retry=Retry(RETRY_BACKOFF, RETRIES)
        )
        self.client = traced.client_class()(connection_pool=self._pool)

    def key(self, *parts: Any) -> str:
        """A key under this runtime's prefix: `prefix:part1:part2…` (':' and '%' in parts escaped)."""
        return ":".join([self.prefix, *(str(p).replace("%", "%25").replace(":", "%3A") for p in parts)])

    def ping(self) -> None:
        """Raise StoreUnavailableError if the server does not answer."""
        try:
            self.client.ping()
        except (redis.ConnectionError, redis.TimeoutError, redis.AuthenticationError) as exc:
            raise StoreUnavailableError("Redis", _SETTING, str(exc) or type(exc).__name__) from exc

    def server_version(self) -> str:
        """Redis version string."""
        try:
            return f"Redis {self.client.info('server')['redis_version']}"
        except (redis.ConnectionError, redis.TimeoutError, redis.AuthenticationError) as exc:
            raise StoreUnavailableError("Redis", _SETTING, str(exc) or type(exc).__name__) from exc

    def close(self) -> None:
        """Disconnect every pooled connection."""
        self._pool.disconnect()
