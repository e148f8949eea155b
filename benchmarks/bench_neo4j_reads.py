"""Neo4j reads as auto-commit transactions against `execute_query`'s managed transactions, in the same run.

    .venv/bin/python benchmarks/bench_neo4j_reads.py [--turns 2000] [--facts 500] [--entities 250] [--queries 200]

One user on a private embedded stack with a local Neo4j graph (hashing embedder): --turns turns in bulk, --facts
facts and --entities entities one transaction each. Then every question (from the retrieval evaluation set) is
asked through remember(top_k=10) twice, once with the store's reads as they are now (an auto-commit transaction
in a READ session: RUN and PULL in one round trip) and once as they were (`execute_query` with READ routing: a
managed transaction, BEGIN+RUN+PULL and then COMMIT), alternating which goes first, so the machine's load hits
both alike. A trivial statement (`RETURN 1`) and the fact/entity search statement are timed the same way.
Writes benchmarks/results/neo4j_reads.md.
"""

import argparse
import os
import random
import statistics
import sys
import time
import types
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "retrieval_eval"))

from bench_remember import USER, learn, store_until, turn_stream  # noqa: E402
from harness import embedded_stores, eval_questions, pct, write_results  # noqa: E402

from memory_runtime.api import AgentMemory  # noqa: E402
from memory_runtime.retrieval import semantic  # noqa: E402
from memory_runtime.stores.bundle import Stores  # noqa: E402

RESULTS = HERE / "results" / "neo4j_reads.md"
PATHS = ("auto-commit (now)", "execute_query (before)")


def managed_read(self: Any, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The read path before this change: `execute_query` with READ routing (a managed transaction)."""
    records, _, _ = self._driver.execute_query(
        cypher, params, routing_=self._neo4j.RoutingControl.READ, database_=self.database
    )
    return [r.data() for r in records]


def timed(out: dict[str, list[float]], name: str, fn: Callable[[], Any]) -> None:
    began = time.perf_counter()
    fn()
    out[name].append((time.perf_counter() - began) * 1000)


def measure(memory: AgentMemory, stores: Stores, queries: list[str]) -> dict[str, list[float]]:
    """Each measure under both read paths, alternating their order query by query."""
    out: dict[str, list[float]] = defaultdict(list)
    graph = stores.graph
    for q in queries[:20]:  # warm-up: connections, plan caches
        memory.remember(q, top_k=10)
    for n, q in enumerate(queries):
        vec = stores.embedder.embed([q])[0]
        for path in PATHS if n % 2 == 0 else reversed(PATHS):
            if path == PATHS[1]:
                graph._read = types.MethodType(managed_read, graph)  # type: ignore[method-assign]
            try:
                timed(out, f"RETURN 1, {path}", lambda: graph.read("RETURN 1 AS one"))
                timed(
                    out,
                    f"fact + entity search statement, {path}",
                    lambda: semantic.search(stores, USER, q, vec, 20, None),  # noqa: B023
                )
                timed(out, f"remember(), {path}", lambda: memory.remember(q, top_k=10))  # noqa: B023
            finally:
                graph.__dict__.pop("_read", None)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--facts", type=int, default=500)
    parser.add_argument("--entities", type=int, default=250)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    queries = eval_questions(rng, args.queries)
    began, load_before = time.perf_counter(), os.getloadavg()
    with embedded_stores("bench-neo4j-reads-", "neo4j") as stores, AgentMemory(USER, stores=stores) as memory:
        store_until(memory, turn_stream(args.seed), 0, args.turns)
        learn(memory, args.facts, args.entities, rng)
        results = measure(memory, stores, queries)
    rows = ["| measure | p50 | p95 |", "|---|---|---|"]
    for name in sorted(results, key=lambda n: (n.split(",")[0], n)):
        values = results[name]
        rows.append(f"| {name} | {statistics.median(values):.2f} ms | {pct(values, 95):.2f} ms |")
    ratios = []
    for measure_name in ("RETURN 1", "fact + entity search statement", "remember()"):
        now, before = (results[f"{measure_name}, {p}"] for p in PATHS)
        ratios.append(
            f"{measure_name}: p50 {statistics.median(now) / statistics.median(before):.2f}x, "
            f"p95 {pct(now, 95) / pct(before, 95):.2f}x of before"
        )
    text = "\n".join(rows) + "\n\n" + "; ".join(ratios)
    print(text)
    command = (
        f".venv/bin/python benchmarks/bench_neo4j_reads.py --turns {args.turns} --facts {args.facts} "
        f"--entities {args.entities} --queries {args.queries}"
    )
    description = (
        "One user on a private embedded stack (PostgreSQL, Redis, local Neo4j Community 5.26), hashing embedder, "
        f"one client thread, a 2-core machine shared with other jobs. {args.turns} turns in bulk, {args.facts} "
        f"facts and {args.entities} entities one transaction each; {len(queries)} questions, each timed under "
        "both read paths in alternating order."
    )
    title = "Neo4j reads: auto-commit against managed transactions"
    write_results(RESULTS, title, command, description, began, load_before, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
