"""Prometheus metrics of the runtime: latency, store errors, embedding cache, reflection lag, rate limits.

The metrics live in a private `CollectorRegistry` created on first use, not in prometheus_client's global
default registry: importing the runtime registers nothing, and an application that embeds it keeps its own
registry clean (expose ours with `render()` on its own route, or with `start_metrics_server`).

Label values come from the fixed sets below and never from a user id, conversation id or memory content, so
label cardinality stays bounded. An unknown operation or retrieval strategy is a programming error
(ValueError); an unknown store or error kind is counted as "other" so that recording an error never masks it.

| metric | type | labels |
|---|---|---|
| agent_memory_operation_seconds | histogram | operation, strategy ("" unless a retrieval strategy) |
| agent_memory_store_errors_total | counter | store, kind |
| agent_memory_embedding_cache_hits_total | counter | — |
| agent_memory_embedding_cache_misses_total | counter | — |
| agent_memory_reflection_stream_lag | gauge | — |
| agent_memory_rate_limited_total | counter | operation |
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

#: Public operations of AgentMemory (and the runtime parts they delegate to) that may be timed.
OPERATIONS: frozenset[str] = frozenset(
    {
        # episodic
        "store_turn",
        "store_turns",
        "reproject",
        "flush_graph",
        # retrieval
        "remember",
        "embed",
        # semantic
        "learn_fact",
        "upsert_entity",
        "relate",
        "neighbours",
        # goals
        "add_goal",
        "get_active_goals",
        "update_goal_status",
        "add_blocker",
        # procedural
        "record_tool_usage",
        "get_tool_stats",
        "learn_strategy",
        "what_worked_for",
        "reinforce_strategy",
        # user model, working memory, reflection, erasure
        "get_user_context",
        "set_preference",
        "set_working_context",
        "get_working_context",
        "reflect",
        "forget_user",
    }
)

#: Retrieval strategies of `remember` that may be timed on their own; "" = the operation as a whole.
STRATEGIES: frozenset[str] = frozenset(
    {
        "",
        "episodic_vector",
        "episodic_fulltext",
        "episodic_recency",
        "fact_vector",
        "fact_fulltext",
        "entity_search",
        "graph_expansion",
        "procedural",
        "active_goals",
        "user_context",
        "fusion",
    }
)

#: Store label values; StoreUnavailableError.store names ("PostgreSQL", "Neo4j", ...) are normalised.
STORES: frozenset[str] = frozenset({"postgres", "neo4j", "falkordb", "graph", "redis", "embedder", "other"})
_STORE_ALIASES = {"postgresql": "postgres"}

#: Error kinds; anything else is counted as "other".
ERROR_KINDS: frozenset[str] = frozenset({"unavailable", "timeout", "auth", "query", "projection", "conflict", "other"})

#: Histogram buckets in seconds: sub-millisecond cache hits up to slow batch writes.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class _Metrics:
    registry: CollectorRegistry
    operation_seconds: Histogram
    store_errors: Counter
    cache_hits: Counter
    cache_misses: Counter
    reflection_lag: Gauge
    rate_limited: Counter


_lock = threading.Lock()
_metrics: _Metrics | None = None


def _build() -> _Metrics:
    reg = CollectorRegistry(auto_describe=True)
    return _Metrics(
        registry=reg,
        operation_seconds=Histogram(
            "agent_memory_operation_seconds",
            "Latency of runtime operations (strategy is set for individual retrieval strategies).",
            ["operation", "strategy"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        ),
        store_errors=Counter(
            "agent_memory_store_errors",
            "Store failures seen by the runtime, by store and kind.",
            ["store", "kind"],
            registry=reg,
        ),
        cache_hits=Counter(
            "agent_memory_embedding_cache_hits", "Embeddings served from the Redis cache.", registry=reg
        ),
        cache_misses=Counter(
            "agent_memory_embedding_cache_misses",
            "Embeddings computed because the cache missed.",
            registry=reg,
        ),
        reflection_lag=Gauge(
            "agent_memory_reflection_stream_lag",
            "Reflection requests in the Redis stream not yet delivered to the consumer group.",
            registry=reg,
        ),
        rate_limited=Counter(
            "agent_memory_rate_limited",
            "Calls rejected by the per-user rate limiter, by operation.",
            ["operation"],
            registry=reg,
        ),
    )


def _get() -> _Metrics:
    global _metrics
    m = _metrics
    if m is None:
        with _lock:
            if _metrics is None:
                _metrics = _build()
            m = _metrics
    return m


def _check_operation(operation: str) -> str:
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r} for metrics; known: {', '.join(sorted(OPERATIONS))}")
    return operation


def _check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        known = ", ".join(repr(s) for s in sorted(STRATEGIES))
        raise ValueError(f"unknown retrieval strategy {strategy!r} for metrics; known: {known}")
    return strategy


def registry() -> CollectorRegistry:
    """The registry holding every agent_memory_* metric (created on first use)."""
    return _get().registry


def observe(operation: str, seconds: float, strategy: str = "") -> None:
    """Record one operation (or one retrieval strategy of it) that took `seconds`."""
    labels = (_check_operation(operation), _check_strategy(strategy))
    _get().operation_seconds.labels(*labels).observe(max(0.0, seconds))


@contextmanager
def timed(operation: str, strategy: str = "") -> Iterator[None]:
    """Time the block into agent_memory_operation_seconds; failed calls are timed too."""
    labels = (_check_operation(operation), _check_strategy(strategy))
    start = time.perf_counter()
    try:
        yield
    finally:
        _get().operation_seconds.labels(*labels).observe(time.perf_counter() - start)


def store_error(store: str, kind: str) -> None:
    """Count one failure of a store ("PostgreSQL"/"postgres", "Neo4j", "Redis", ...) of a kind."""
    name = store.strip().lower()
    name = _STORE_ALIASES.get(name, name)
    _get().store_errors.labels(name if name in STORES else "other", kind if kind in ERROR_KINDS else "other").inc()


def cache_result(hits: int, misses: int) -> None:
    """Add embedding-cache hits and misses (counts of this call, not running totals)."""
    if hits < 0 or misses < 0:
        raise ValueError("cache hits and misses must be >= 0")
    m = _get()
    if hits:
        m.cache_hits.inc(hits)
    if misses:
        m.cache_misses.inc(misses)


def set_reflection_lag(n: int) -> None:
    """Set the number of reflection requests waiting in the stream."""
    _get().reflection_lag.set(max(0, n))


def rate_limited(operation: str) -> None:
    """Count one call rejected by the rate limiter."""
    _get().rate_limited.labels(_check_operation(operation)).inc()


#: Content type of `render()`'s output.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


def render() -> bytes:
    """The metrics in the Prometheus text format 0.0.4 (for an application's own /metrics route)."""
    return generate_latest(_get().registry)


# ---- HTTP exposition ---------------------------------------------------------------------------------


@dataclass
class MetricsServer:
    """A running /metrics HTTP server (a daemon thread); `close()` stops it."""

    addr: str
    port: int
    _server: WSGIServer
    _thread: Thread

    def close(self) -> None:
        """Stop serving and free the port."""
        with _servers_lock:
            if _servers.get((self.addr, self.port)) is self:
                del _servers[(self.addr, self.port)]
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


_servers_lock = threading.Lock()
_servers: dict[tuple[str, int], MetricsServer] = {}


def start_metrics_server(port: int, addr: str = "127.0.0.1") -> MetricsServer:
    """Serve our registry at http://addr:port/metrics (loopback by default); idempotent per addr and port.

    Port 0 picks a free port (read it from the returned server's `.port`). Bind a non-loopback address only
    behind a network boundary you trust: the endpoint has no authentication.
    """
    with _servers_lock:
        existing = _servers.get((addr, port))
        if existing is not None:
            return existing
        server, thread = start_http_server(port, addr=addr, registry=registry())
        handle = MetricsServer(addr, server.server_address[1], server, thread)
        _servers[(addr, handle.port)] = handle
        return handle


def serve(
    port: int,
    addr: str = "127.0.0.1",
    *,
    lag_probe: Callable[[], int] | None = None,
    interval_s: float = 15.0,
    stop: threading.Event | None = None,
) -> None:
    """Body of `agent-memory metrics-server`: serve /metrics until `stop` is set (or Ctrl-C).

    With `lag_probe` (e.g. the reflection queue's lag), the reflection-lag gauge is refreshed every
    `interval_s` seconds; a probe that raises is counted as a Redis error (kind "other") and retried on the
    next tick.
    """
    stop = stop or threading.Event()
    server = start_metrics_server(port, addr)
    try:
        while not stop.is_set():
            if lag_probe is not None:
                try:
                    set_reflection_lag(lag_probe())
                except Exception:  # keep serving; the failure is visible as a metric
                    store_error("redis", "other")
            stop.wait(interval_s)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
