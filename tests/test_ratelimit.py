"""The per-user token-bucket rate limiter, against the real embedded Redis."""

import threading
import time

import pytest

from memory_runtime.config import Settings
from memory_runtime.domain.errors import RateLimited
from memory_runtime.memory.ratelimit import RateLimiter
from memory_runtime.stores.redis import RedisStore

SLOW = 1  # tokens per minute: nothing refills during a test


def _limiter(redis: RedisStore, *, writes: int | None = SLOW, reads: int | None = None, burst: int = 3):
    return RateLimiter(redis, writes_per_minute=writes, reads_per_minute=reads, burst=burst)


def _drain(limiter: RateLimiter, user: str, kind: str = "write") -> int:
    """Acquire until refused; returns how many calls succeeded."""
    taken = 0
    while True:
        try:
            limiter.acquire(user, kind, "store_turn")  # type: ignore[arg-type]
        except RateLimited:
            return taken
        taken += 1
        assert taken <= 1000, "the limiter never refused"


def _evalsha_calls(redis: RedisStore) -> int:
    return int(redis.client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))


def test_a_user_over_the_limit_gets_rate_limited_with_a_positive_retry_after(stores) -> None:
    limiter = _limiter(stores.redis, burst=3)
    for _ in range(3):
        limiter.acquire("alice", "write", "store_turn")
    with pytest.raises(RateLimited) as exc:
        limiter.acquire("alice", "write", "store_turn")
    assert exc.value.operation == "store_turn"
    assert 0 < exc.value.retry_after_s <= 60.0  # one token at 1/min takes at most a minute


def test_another_user_is_not_affected_by_a_limited_user(stores) -> None:
    limiter = _limiter(stores.redis, burst=2)
    assert _drain(limiter, "alice") == 2
    assert _drain(limiter, "bob") == 2


def test_reads_and_writes_have_separate_buckets(stores) -> None:
    limiter = _limiter(stores.redis, writes=SLOW, reads=SLOW, burst=2)
    assert _drain(limiter, "alice", "write") == 2
    limiter.acquire("alice", "read", "remember")  # still full


def test_the_bucket_refills_over_time(stores) -> None:
    limiter = _limiter(stores.redis, writes=600, burst=2)  # 10 tokens a second
    assert _drain(limiter, "alice") == 2
    with pytest.raises(RateLimited) as exc:
        limiter.acquire("alice", "write", "store_turn")
    assert 0 < exc.value.retry_after_s <= 0.1
    time.sleep(exc.value.retry_after_s + 0.05)
    limiter.acquire("alice", "write", "store_turn")


def test_refill_is_capped_at_the_burst_size(stores) -> None:
    limiter = _limiter(stores.redis, writes=600, burst=2)
    _drain(limiter, "alice")
    time.sleep(0.5)  # long enough for 5 tokens, but the bucket holds 2
    assert _drain(limiter, "alice") == 2


def test_cost_takes_several_tokens_at_once(stores) -> None:
    limiter = _limiter(stores.redis, burst=5)
    limiter.acquire("alice", "write", "store_turns", cost=4)
    with pytest.raises(RateLimited):
        limiter.acquire("alice", "write", "store_turns", cost=2)
    limiter.acquire("alice", "write", "store_turn")


def test_a_cost_above_the_burst_size_is_rejected(stores) -> None:
    limiter = _limiter(stores.redis, burst=5)
    with pytest.raises(ValueError, match="burst"):
        limiter.acquire("alice", "write", "store_turns", cost=6)


def test_concurrent_callers_get_exactly_burst_tokens(stores) -> None:
    burst, threads, attempts = 10, 8, 4
    limiter = _limiter(stores.redis, burst=burst)
    start = threading.Barrier(threads)
    successes: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        start.wait()
        for _ in range(attempts):
            try:
                limiter.acquire("alice", "write", "store_turn")
            except RateLimited:
                with lock:
                    refused.append(1)
            else:
                with lock:
                    successes.append(1)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=30)
    assert len(successes) == burst
    assert len(refused) == threads * attempts - burst


def test_each_limited_call_is_one_evalsha(stores) -> None:
    limiter = _limiter(stores.redis, burst=50)
    limiter.acquire("alice", "write", "store_turn")  # loads the script if the server lacks it
    before = _evalsha_calls(stores.redis)
    for _ in range(5):
        limiter.acquire("alice", "write", "store_turn")
    assert _evalsha_calls(stores.redis) - before == 5


def test_unlimited_makes_no_redis_call(stores) -> None:
    limiter = _limiter(stores.redis, writes=None, reads=None)
    before = stores.redis.client.info("stats")["total_commands_processed"]
    for _ in range(100):
        limiter.acquire("alice", "write", "store_turn")
        limiter.acquire("alice", "read", "remember")
    # the INFO call that reads the counter is itself the only command processed in between
    assert stores.redis.client.info("stats")["total_commands_processed"] - before == 1


def test_unlimited_needs_no_reachable_redis() -> None:
    nowhere = RedisStore("redis://127.0.0.1:9/0", "t", connect_timeout_s=0.2)
    try:
        limiter = _limiter(nowhere, writes=None, reads=None)
        started = time.perf_counter()
        for _ in range(100):
            limiter.acquire("alice", "write", "store_turn")
        assert time.perf_counter() - started < 0.05
    finally:
        nowhere.close()


def test_the_bucket_expires_once_it_would_be_full_again(stores) -> None:
    limiter = _limiter(stores.redis, writes=600, burst=5)  # empty -> full in 0.5 s
    limiter.acquire("alice", "write", "store_turn")
    ttl_ms = stores.redis.client.pttl(stores.redis.key("rl", "write", "alice"))
    assert 0 < ttl_ms <= 500 + 1000


def test_buckets_live_under_the_runtime_prefix(stores) -> None:
    limiter = _limiter(stores.redis)
    limiter.acquire("user:with:colons", "write", "store_turn")
    keys = [k.decode() for k in stores.redis.client.scan_iter(match=f"{stores.redis.prefix}:rl:*")]
    assert keys == [stores.redis.key("rl", "write", "user:with:colons")]


def test_from_settings_reads_the_rate_limit_settings(stores, settings: Settings) -> None:
    configured = settings.model_copy(
        update={"rate_limit_writes_per_minute": 1, "rate_limit_reads_per_minute": None, "rate_limit_burst": 2}
    )
    limiter = RateLimiter.from_settings(stores.redis, configured)
    assert (limiter.limit("write"), limiter.limit("read"), limiter.burst) == (1, None, 2)
    assert _drain(limiter, "alice") == 2


def test_an_unknown_kind_is_rejected(stores) -> None:
    with pytest.raises(ValueError, match="kind"):
        _limiter(stores.redis).acquire("alice", "delete", "store_turn")  # type: ignore[arg-type]
