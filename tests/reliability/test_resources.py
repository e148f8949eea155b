"""Resource bounds: connection pools never exceed their maximum, memory stays flat while importing.

Connections are counted on the server side (pg_stat_activity, CLIENT LIST) while more callers than the
pool allows hammer it at once.
"""

import gc
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psutil
import psycopg
import redis
from graph_server import StandaloneNeo4j
from reliability_helpers import graph_turn_ids, open_stores, pg_turn_ids, redis_uri, turns

from memory_runtime.api import AgentMemory
from memory_runtime.domain.models import Goal
from memory_runtime.stores.postgres import APPLICATION_NAME

CALLERS = 48


class PeakSampler(threading.Thread):
    """Calls `sample()` every few milliseconds until stopped; keeps the maximum."""

    def __init__(self, sample: Callable[[], int], every_s: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.sample, self.every_s = sample, every_s
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, self.sample())
            time.sleep(self.every_s)

    def __enter__(self) -> "PeakSampler":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_event.set()
        self.join(10)
        self.peak = max(self.peak, self.sample())


def hammer(work: Callable[[int], object], callers: int = CALLERS) -> None:
    barrier = threading.Barrier(callers)

    def call(i: int) -> object:
        barrier.wait(timeout=30)
        return work(i)

    with ThreadPoolExecutor(callers) as pool:
        for future in [pool.submit(call, i) for i in range(callers)]:
            future.result(timeout=120)


def test_postgres_connections_never_exceed_the_pool_maximum(settings):
    app = f"am-bound-{uuid.uuid4().hex[:8]}"
    own = settings.model_copy(update={"postgres_uri": f"{settings.postgres_uri}&application_name={app}",
                                      "postgres_pool_max": 4})  # fmt: skip
    with open_stores(own) as stores, psycopg.connect(settings.postgres_uri, autocommit=True) as probe:

        def connections() -> int:
            query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            return probe.execute(query, (app,)).fetchone()[0]

        def work(i: int) -> None:
            with AgentMemory(f"user{i % 6}", f"conv{i}", stores=stores) as memory:
                memory.store_turns(turns(f"conv{i}", 5))
                with stores.pg.connection() as conn:
                    conn.execute("SELECT pg_sleep(0.05)")

        with PeakSampler(connections) as sampler:
            hammer(work)
        print(f"[resources] postgres: peak {sampler.peak} connections, pool max 4, {CALLERS} callers")
        assert 1 <= sampler.peak <= 4, sampler.peak
        assert sum(len(pg_turn_ids(stores, f"user{u}")) for u in range(6)) == CALLERS * 5


def test_runtime_connections_are_named_in_pg_stat_activity(stores):
    with stores.pg.connection() as conn:
        name = conn.execute("SELECT current_setting('application_name') AS n").fetchone()["n"]
    assert name == APPLICATION_NAME == "agent-memory"


def client_count(server) -> Callable[[], int]:
    """How many clients the server has now: Redis's CLIENT LIST, or this process's Bolt connections to Neo4j."""
    if isinstance(server, StandaloneNeo4j):
        port = int(server.uri.rsplit(":", 1)[1])
        me = psutil.Process()
        return lambda: sum(1 for c in me.net_connections("tcp") if c.raddr and c.raddr.port == port)
    probe = redis.Redis(unix_socket_path=str(server.sock))
    return lambda: len(probe.client_list()) - 1  # minus the probe itself


def pool_limit(graph) -> int:
    """The most connections the graph store may open (its pool's maximum)."""
    return graph.max_connections if graph.backend == "neo4j" else graph._pool.max_connections


def test_redis_connections_never_exceed_the_pool_maximum(settings, redis_server):
    own = settings.model_copy(update={"redis_uri": redis_uri(redis_server)})
    with open_stores(own) as stores:
        limit = stores.redis._pool.max_connections

        def work(i: int) -> None:
            memory = AgentMemory("u1", f"conv{i % 4}", stores=stores)
            for k in range(20):
                memory.set_working_context(f"k{i}-{k}", k)
                memory.get_working_context()

        with PeakSampler(client_count(redis_server)) as sampler:
            hammer(work, callers=2 * limit)
        print(f"[resources] redis: peak {sampler.peak} clients, pool max {limit}, {2 * limit} callers")
        assert 1 <= sampler.peak <= limit, (sampler.peak, limit)


def test_graph_connections_never_exceed_the_pool_maximum(settings, graph_server):
    own = graph_server.configure(settings)
    with open_stores(own) as stores:
        limit = pool_limit(stores.graph)
        AgentMemory("u1", stores=stores).add_goal(Goal(description="stay bounded"))

        def work(i: int) -> None:
            memory = AgentMemory("u1", stores=stores)
            for _ in range(20):
                assert memory.get_active_goals()

        with PeakSampler(client_count(graph_server)) as sampler:
            hammer(work, callers=3 * limit)
        print(f"[resources] graph: peak {sampler.peak} clients, pool max {limit}, {3 * limit} callers")
        assert 1 <= sampler.peak <= limit, (sampler.peak, limit)


IMPORT_TURNS = 20_000
IMPORT_BATCH = 500


def test_memory_stays_bounded_while_importing_20k_turns(stores, capsys):
    process = psutil.Process()
    memory = AgentMemory("importer", stores=stores)
    memory.store_turns(turns("warmup", IMPORT_BATCH, text="warm up the caches"))  # imports, pools, scripts
    gc.collect()
    baseline = process.memory_info().rss
    started = time.perf_counter()
    with PeakSampler(lambda: process.memory_info().rss, every_s=0.02) as sampler:
        for b in range(IMPORT_TURNS // IMPORT_BATCH):
            conv = f"import-{b // 4}"  # 10 conversations of 2,000 turns
            memory.store_turns(turns(conv, IMPORT_BATCH, start=(b % 4) * IMPORT_BATCH, text=f"imported line {b}"))
    elapsed = time.perf_counter() - started
    growth_mb = (sampler.peak - baseline) / 2**20
    with capsys.disabled():
        print(
            f"\n[resources] {IMPORT_TURNS} turns in batches of {IMPORT_BATCH}: {elapsed:.1f} s "
            f"({IMPORT_TURNS / elapsed:.0f} turns/s), RSS baseline {baseline / 2**20:.0f} MB, "
            f"peak growth {growth_mb:.1f} MB"
        )
    assert (
        len(pg_turn_ids(stores, "importer")) == len(graph_turn_ids(stores, "importer")) == IMPORT_TURNS + IMPORT_BATCH
    )
    assert growth_mb < 300
