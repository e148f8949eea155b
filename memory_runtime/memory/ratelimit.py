"""Per-user rate limits: one token bucket per (kind, user) in Redis, refilled continuously.

Each `acquire` is one EVALSHA of a Lua script, so check-and-take is atomic across every process and thread
that shares the Redis server. The script reads the clock with Redis `TIME`, so the clocks of the clients
don't matter, and it sets a TTL on the bucket (the time a drained bucket needs to refill, plus a second), so
idle users leave no keys behind. A bucket holds at most `burst` tokens and gains `per_minute / 60` tokens a
second; an empty bucket raises `RateLimited` with the seconds until enough tokens are back.

A limit of None means unlimited: no Redis call at all. If Redis itself fails, the call is allowed (fail
open: the limiter protects the stores, it must not take the runtime down with Redis) and the failure is
logged and counted as a store error.
"""

import logging
from typing import Literal

from redis.exceptions import RedisError

from memory_runtime import metrics
from memory_runtime.config import Settings
from memory_runtime.domain.errors import RateLimited
from memory_runtime.stores.redis import RedisStore

log = logging.getLogger(__name__)

Kind = Literal["write", "read"]

# KEYS[1] bucket; ARGV[1] tokens per minute, ARGV[2] burst, ARGV[3] cost.
# Returns {1, "0"} when the tokens were taken, {0, "<microseconds until they would be>"} otherwise.
# Numbers go back as strings: Redis truncates Lua numbers in replies to integers. Redis 5+ replicates
# the script's effects (not the script), so reading TIME before writing is allowed.
_TOKEN_BUCKET = """
local per_us = tonumber(ARGV[1]) / 60000000
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * per_us)
end
local allowed = 0
local wait_us = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait_us = math.ceil((cost - tokens) / per_us)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / per_us / 1000) + 1000)
return {allowed, string.format('%.0f', wait_us)}
"""


class RateLimiter:
    """Token-bucket limits per user for writes and reads (see the module docstring)."""

    def __init__(
        self,
        redis: RedisStore,
        *,
        writes_per_minute: int | None,
        reads_per_minute: int | None,
        burst: int,
    ) -> None:
        for name, value in (("writes_per_minute", writes_per_minute), ("reads_per_minute", reads_per_minute)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None (unlimited), got {value}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self._redis = redis
        self._limits: dict[str, int | None] = {"write": writes_per_minute, "read": reads_per_minute}
        self.burst = burst
        self._script = redis.client.register_script(_TOKEN_BUCKET)

    @classmethod
    def from_settings(cls, redis: RedisStore, settings: Settings) -> "RateLimiter":
        """A limiter with MEMORY_RATE_LIMIT_WRITES_PER_MINUTE, _READS_PER_MINUTE and _BURST."""
        return cls(
            redis,
            writes_per_minute=settings.rate_limit_writes_per_minute,
            reads_per_minute=settings.rate_limit_reads_per_minute,
            burst=settings.rate_limit_burst,
        )

    def limit(self, kind: Kind) -> int | None:
        """Tokens per minute of `kind`, or None when unlimited."""
        if kind not in self._limits:
            raise ValueError(f"kind must be 'write' or 'read', got {kind!r}")
        return self._limits[kind]

    def acquire(self, user_id: str, kind: Kind, operation: str, cost: int = 1) -> None:
        """Take `cost` tokens from the user's `kind` bucket or raise RateLimited(operation, retry_after_s)."""
        per_minute = self.limit(kind)
        if per_minute is None:
            return
        if not 1 <= cost <= self.burst:
            raise ValueError(f"cost must be between 1 and the burst size {self.burst}, got {cost}")
        key = self._redis.key("rl", kind, user_id)
        try:
            allowed, wait_us = self._script(keys=[key], args=[per_minute, self.burst, cost])
        except RedisError as exc:
            log.warning("rate limiter unavailable, allowing %s: %s", operation, exc)
            metrics.store_error("redis", "unavailable")
            return
        if int(allowed) != 1:
            raise RateLimited(operation, max(int(wait_us), 1) / 1_000_000)
