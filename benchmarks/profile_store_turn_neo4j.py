"""Where one store_turn's time goes on Neo4j: the graph statement against the commit floor and its index updates.

    .venv/bin/python benchmarks/profile_store_turn_neo4j.py [--turns 2000] [--calls 200]

On a private embedded stack with a local Neo4j graph (hashing embedder), after --turns turns stored in bulk,
--calls single turns are stored with store_turn. Each call's graph statement (`episodic.project`, one turn) is
timed in the client and, from the driver's result summary, on the server (`result_available_after +
result_consumed_after`: planning and running the statement, before the commit). The same statement is then run
directly, alternating call by call: as `execute_query` runs it (managed transaction: BEGIN+RUN+PULL, then COMMIT),
as an auto-commit transaction (RUN+PULL), and as the smallest write (one property on one node) for the floor of
a committed transaction; and, after the Turn vector index and then the Turn full-text index are dropped, again,
which prices each index's update in the commit. Writes benchmarks/results/profiles/store_turn_neo4j.md.
"""

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "retrieval_eval"))

from bench_remember import USER, store_until, turn_stream  # noqa: E402
from harness import embedded_stores, pct, write_results  # noqa: E402

from memory_runtime.api import AgentMemory  # noqa: E402
from memory_runtime.memory import episodic  # noqa: E402
from memory_runtime.stores.bundle import Stores  # noqa: E402
from memory_runtime.stores.graph.neo4j import drop_index  # noqa: E402
from memory_runtime.stores.graph.queries import episodic as q  # noqa: E402
from memory_runtime.stores.graph.schema import SCHEMA  # noqa: E402

TURN_TEXT = next(f for f in SCHEMA.fulltext if f.label == "Turn")

RESULTS = HERE / "results" / "profiles" / "store_turn_neo4j.md"
FLOOR = "MERGE (p:ProfileProbe {id: 'probe'}) SET p.n = $n RETURN p.n AS n"


def _server_ms(summary: Any) -> float:
    return float((summary.result_available_after or 0) + (summary.result_consumed_after or 0))


def store_turn_calls(memory: AgentMemory, stores: Stores, stream, calls: int) -> dict[str, list[float]]:
    """store_turn end to end, its graph statement in the client and on the server (ms)."""
    out: dict[str, list[float]] = defaultdict(list)
    driver, neo4j = stores.graph._driver, stores.graph._neo4j  # type: ignore[attr-defined]
    original = episodic.run_statements

    def timed_project(stores_: Stores, statements: list[episodic.Statement]) -> None:
        for cypher, params in statements:
            began = time.perf_counter()
            _, summary, _ = driver.execute_query(cypher, dict(params), routing_=neo4j.RoutingControl.WRITE)
            out["graph statement (execute_query), client"].append((time.perf_counter() - began) * 1000)
            out["graph statement, server (plan + run, before commit)"].append(_server_ms(summary))

    episodic.run_statements = timed_project
    try:
        for _ in range(calls):
            turn = next(stream)
            began = time.perf_counter()
            memory.store_turn(turn)
            out["store_turn, end to end"].append((time.perf_counter() - began) * 1000)
    finally:
        episodic.run_statements = original
    return out


def direct(stores: Stores, rows: list[dict[str, Any]], tag: str) -> dict[str, list[float]]:
    """The projection of each of `rows` as execute_query and as auto-commit, and the floor write, interleaved."""
    out: dict[str, list[float]] = defaultdict(list)
    driver, neo4j = stores.graph._driver, stores.graph._neo4j  # type: ignore[attr-defined]
    statement = q.project(stores.graph.dialect)
    for n, row in enumerate(rows):
        half = len(rows) // 2
        params = episodic.projection_params([row])
        began = time.perf_counter()
        if n < half:
            driver.execute_query(statement, params, routing_=neo4j.RoutingControl.WRITE)
            out[f"turn projection, execute_query{tag}"].append((time.perf_counter() - began) * 1000)
        else:
            with driver.session() as session:
                session.run(statement, params).consume()
            out[f"turn projection, auto-commit{tag}"].append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        driver.execute_query(FLOOR, {"n": n}, routing_=neo4j.RoutingControl.WRITE)
        out[f"smallest write (one property), execute_query{tag}"].append((time.perf_counter() - began) * 1000)
    return out


def fresh_rows(memory: AgentMemory, stream, n: int) -> list[dict[str, Any]]:
    """The graph rows of `n` new turns, as store_turn projects them (stored in PostgreSQL, not yet projected)."""
    batch = memory.episodic.commit([next(stream) for _ in range(n)])
    return [episodic._graph_row(USER, r) for r in batch.new_rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    began, load_before = time.perf_counter(), os.getloadavg()
    results: dict[str, list[float]] = {}
    stream = turn_stream(args.seed)
    with embedded_stores("profile-turn-", "neo4j") as stores, AgentMemory(USER, stores=stores) as memory:
        store_until(memory, stream, 0, args.turns)
        results.update(store_turn_calls(memory, stores, stream, args.calls))
        results.update(direct(stores, fresh_rows(memory, stream, args.calls), ""))
        stores.graph.write(drop_index("turn_text"))  # the same full-text index, updated after the commit
        stores.graph.write(stores.graph.dialect.fulltext_ddl(TURN_TEXT, eventually_consistent=True).statement)
        stores.graph.read("CALL db.awaitIndexes(300)")
        results.update(direct(stores, fresh_rows(memory, stream, args.calls), ", Turn full-text eventually consistent"))
        stores.graph.write(drop_index("turn_embedding"))
        results.update(direct(stores, fresh_rows(memory, stream, args.calls), ", without the Turn vector index"))
        stores.graph.write(drop_index("turn_text"))
        results.update(
            direct(stores, fresh_rows(memory, stream, args.calls), ", without the Turn vector and full-text indexes")
        )
    rows = ["| measure | p50 | p95 | mean |", "|---|---|---|---|"]
    for name, values in results.items():
        rows.append(
            f"| {name} | {statistics.median(values):.1f} ms | {pct(values, 95):.1f} ms | "
            f"{statistics.fmean(values):.1f} ms |"
        )
    text = "\n".join(rows)
    print(text)
    command = f".venv/bin/python benchmarks/profile_store_turn_neo4j.py --turns {args.turns} --calls {args.calls}"
    description = (
        "A private embedded stack (PostgreSQL, Redis, local Neo4j Community 5.26 with the launcher's settings), "
        f"hashing embedder, one client thread, a 2-core machine shared with other jobs. {args.turns} turns in "
        f"bulk first; then {args.calls} store_turn calls, then {args.calls} direct runs of the one-turn "
        "projection per row below (each half of them as execute_query, the other half auto-commit), each followed "
        "by the smallest committed write. `server` is the driver's result summary (planning and running the "
        "statement, not the commit)."
    )
    write_results(RESULTS, "store_turn on Neo4j: where the time goes", command, description, began, load_before, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
