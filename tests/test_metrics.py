"""Prometheus metrics: names, bounded labels, exposition, and the façade feeding them."""

import socket
import urllib.request

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from memory_runtime import metrics
from memory_runtime.config import Settings

HISTOGRAM = "agent_memory_operation_seconds"


def _value(name: str, **labels: str) -> float:
    return metrics.registry().get_sample_value(name, labels) or 0.0


def _count(operation: str, strategy: str = "") -> float:
    return _value(f"{HISTOGRAM}_count", operation=operation, strategy=strategy)


def _families() -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_metric_has_its_documented_name_type_and_labels() -> None:
    metrics.observe("remember", 0.01)
    metrics.store_error("redis", "unavailable")
    metrics.cache_result(1, 1)
    metrics.set_reflection_lag(0)
    metrics.rate_limited("store_turn")
    families = {f.name: f for f in metrics.registry().collect()}
    expected = {
        "agent_memory_operation_seconds": ("histogram", {"operation", "strategy"}),
        "agent_memory_store_errors": ("counter", {"store", "kind"}),
        "agent_memory_embedding_cache_hits": ("counter", set()),
        "agent_memory_embedding_cache_misses": ("counter", set()),
        "agent_memory_reflection_stream_lag": ("gauge", set()),
        "agent_memory_rate_limited": ("counter", {"operation"}),
    }
    assert set(families) == set(expected)
    for name, (kind, labels) in expected.items():
        family = families[name]
        assert family.type == kind, name
        for sample in family.samples:
            if sample.name.endswith(("_created",)):
                continue
            assert set(sample.labels) - {"le"} == labels, (name, sample.labels)


def test_the_metrics_use_a_private_registry() -> None:
    metrics.observe("remember", 0.01)
    assert metrics.registry() is not REGISTRY
    assert REGISTRY.get_sample_value(f"{HISTOGRAM}_count", {"operation": "remember", "strategy": ""}) is None


def test_a_timed_block_is_counted_under_its_operation() -> None:
    before = _count("learn_fact")
    with metrics.timed("learn_fact"):
        pass
    assert _count("learn_fact") == before + 1


def test_a_failing_timed_block_is_still_counted_and_the_error_propagates() -> None:
    before = _count("upsert_entity")
    with pytest.raises(RuntimeError), metrics.timed("upsert_entity"):
        raise RuntimeError("boom")
    assert _count("upsert_entity") == before + 1


def test_a_retrieval_strategy_is_its_own_series() -> None:
    before = _count("remember", "fact_vector")
    metrics.observe("remember", 0.002, strategy="fact_vector")
    assert _count("remember", "fact_vector") == before + 1
    assert _value(f"{HISTOGRAM}_sum", operation="remember", strategy="fact_vector") >= 0.002


def test_an_unknown_operation_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown operation"), metrics.timed("user-42 said hello"):
        pass
    with pytest.raises(ValueError, match="unknown operation"):
        metrics.observe("select_everything", 0.1)
    with pytest.raises(ValueError, match="unknown operation"):
        metrics.rate_limited("alice")


def test_an_unknown_strategy_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown retrieval strategy"):
        metrics.observe("remember", 0.1, strategy="what did we say about Cython?")


def test_store_errors_normalise_store_names_and_bound_the_kind() -> None:
    before_pg = _value("agent_memory_store_errors_total", store="postgres", kind="unavailable")
    before_other = _value("agent_memory_store_errors_total", store="other", kind="other")
    metrics.store_error("PostgreSQL", "unavailable")
    metrics.store_error("my-user-id", "some free text")
    assert _value("agent_memory_store_errors_total", store="postgres", kind="unavailable") == before_pg + 1
    assert _value("agent_memory_store_errors_total", store="other", kind="other") == before_other + 1


def test_cache_results_add_hits_and_misses() -> None:
    hits = _value("agent_memory_embedding_cache_hits_total")
    misses = _value("agent_memory_embedding_cache_misses_total")
    metrics.cache_result(3, 2)
    assert _value("agent_memory_embedding_cache_hits_total") == hits + 3
    assert _value("agent_memory_embedding_cache_misses_total") == misses + 2


def test_reflection_lag_is_a_gauge() -> None:
    metrics.set_reflection_lag(7)
    assert _value("agent_memory_reflection_stream_lag") == 7
    metrics.set_reflection_lag(0)
    assert _value("agent_memory_reflection_stream_lag") == 0


def test_rate_limited_calls_are_counted_per_operation() -> None:
    before = _value("agent_memory_rate_limited_total", operation="remember")
    metrics.rate_limited("remember")
    assert _value("agent_memory_rate_limited_total", operation="remember") == before + 1


def test_render_is_text_exposition_with_every_metric_name() -> None:
    metrics.observe("store_turn", 0.003)
    text = metrics.render().decode()
    for name in (
        "agent_memory_operation_seconds_bucket",
        "agent_memory_store_errors_total",
        "agent_memory_embedding_cache_hits_total",
        "agent_memory_embedding_cache_misses_total",
        "agent_memory_reflection_stream_lag",
        "agent_memory_rate_limited_total",
    ):
        assert name in text
    assert "# TYPE agent_memory_operation_seconds histogram" in text
    assert metrics.CONTENT_TYPE.startswith("text/plain; version=0.0.4")


def test_the_metrics_server_serves_metrics_on_loopback() -> None:
    port = _free_port()
    server = metrics.start_metrics_server(port)
    try:
        assert (server.addr, server.port) == ("127.0.0.1", port)
        assert metrics.start_metrics_server(port) is server  # idempotent
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            assert resp.status == 200
            body = resp.read().decode()
        assert "agent_memory_operation_seconds" in body
    finally:
        server.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_serve_refreshes_the_reflection_lag_until_stopped() -> None:
    import threading

    stop = threading.Event()
    calls: list[int] = []

    def probe() -> int:
        calls.append(1)
        if len(calls) >= 2:
            stop.set()
        return 11

    port = _free_port()
    metrics.serve(port, lag_probe=probe, interval_s=0.01, stop=stop)
    assert len(calls) >= 2
    assert _value("agent_memory_reflection_stream_lag") == 11
    with pytest.raises(OSError):  # the server was closed on the way out
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
    metrics.set_reflection_lag(0)


def test_every_operation_the_facade_times_is_a_known_operation() -> None:
    import inspect
    import re

    from memory_runtime import api as memory

    used = set(re.findall(r'_op\("([a-z_]+)"', inspect.getsource(memory)))
    assert used, "AgentMemory no longer times its operations through _op"
    assert used <= metrics.OPERATIONS, used - metrics.OPERATIONS


# ---- integration: the façade feeds the histograms ------------------------------------------------------


def test_agent_memory_calls_are_timed(stores, settings: Settings) -> None:
    from memory_runtime.api import AgentMemory
    from memory_runtime.domain.models import Turn

    store_before = _count("store_turn")
    remember_before = _count("remember")
    with AgentMemory("metrics-user", "metrics-conv", settings=settings) as memory:
        memory.store_turn(Turn(conversation_id="metrics-conv", index=0, role="user", content="I like Cython."))
        memory.remember("what do I like?")
    assert _count("store_turn") == store_before + 1
    assert _count("remember") == remember_before + 1


def test_rate_limited_agent_memory_calls_are_counted(stores, settings: Settings) -> None:
    from memory_runtime.api import AgentMemory
    from memory_runtime.domain.errors import RateLimited

    limited = settings.model_copy(update={"rate_limit_reads_per_minute": 1, "rate_limit_burst": 1})
    before = _value("agent_memory_rate_limited_total", operation="remember")
    with AgentMemory("metrics-user", "metrics-conv", settings=limited) as memory:
        memory.remember("first")
        with pytest.raises(RateLimited):
            memory.remember("second")
    assert _value("agent_memory_rate_limited_total", operation="remember") == before + 1
