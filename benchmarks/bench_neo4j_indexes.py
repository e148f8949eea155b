"""Neo4j vector-index fragmentation: single-transaction writes, the Lucene segments they leave, and what they cost.

    .venv/bin/python benchmarks/bench_neo4j_indexes.py [--facts 10000] [--entities 5000] [--turns 2000]
        [--single-turns 300] [--queries 200] [--merge-factor 50 10]

For each --merge-factor (the local Neo4j's `internal.dbms.index.vector.standard_merge_factor`, Neo4j's own default
being 50; memory_ops.stack.neo4j.DEFAULT_VECTOR_MERGE_FACTOR the project's) a fresh private stack (embedded
PostgreSQL and Redis, a local Neo4j Community 5.26 graph, hashing embedder) gets --turns turns in bulk
(store_turns), then --single-turns turns one store_turn each, then --entities entities (upsert_entity) and --facts
facts (learn_fact), each its own transaction, as an agent writes them. It then counts the Lucene segments of every
vector index on disk (after a checkpoint), and times --queries questions as a raw top-10 query on the Fact and
Entity vector indexes and through remember(top_k=10). Then `agent-memory reindex --compact`
(`memory_runtime.batch.reindex.repair_vector_indexes(compact=True)`, also the weekly schedule's run) rebuilds the
Fact, Entity and Turn indexes of 1000+ vectors and the same queries are timed again. Writes
benchmarks/results/neo4j_indexes.md.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "retrieval_eval"))

from bench_remember import USER, learn, store_until, turn_stream  # noqa: E402
from harness import embedded_stores, eval_questions, pct, write_results  # noqa: E402

from memory_ops.stack.neo4j import DEFAULT_VECTOR_MERGE_FACTOR  # noqa: E402
from memory_runtime.api import AgentMemory  # noqa: E402
from memory_runtime.batch import reindex  # noqa: E402
from memory_runtime.stores.bundle import Stores  # noqa: E402
from memory_runtime.stores.graph.schema import SCHEMA  # noqa: E402

RESULTS = HERE / "results" / "neo4j_indexes.md"
RAW = {
    label: f"CALL db.index.vector.queryNodes('{label.lower()}_embedding', 10, $v) YIELD node, score "
    "RETURN node.id, score"
    for label in ("Fact", "Entity")
}
INDEX_IDS = "SHOW INDEXES YIELD id, name, type WHERE type = 'VECTOR' RETURN id, name"


def segments(stores: Stores, home: Path) -> dict[str, int]:
    """Lucene segments of each vector index: its `.si` files on disk (Community has no `db.checkpoint()`; the
    near-real-time reader's flushed segments are files too, and merged-away ones are deleted)."""
    roots = list(home.glob("data/databases/neo4j/schema/index/vector-*"))
    out = {}
    for row in stores.graph.read(INDEX_IDS):
        files = [f for root in roots for f in (root / str(row["id"])).rglob("*.si")]
        out[row["name"]] = len(files)
    return out


def timed_writes(memory: AgentMemory, stream, n: int) -> list[float]:
    """`n` store_turn calls, one turn each: their latencies (ms)."""
    out = []
    for _ in range(n):
        turn = next(stream)
        began = time.perf_counter()
        memory.store_turn(turn)
        out.append((time.perf_counter() - began) * 1000)
    return out


def measure(memory: AgentMemory, stores: Stores, queries: list[str]) -> dict[str, list[float]]:
    """Raw top-10 Fact and Entity vector queries and remember() (ms) over `queries`, after a warm-up."""
    out: dict[str, list[float]] = defaultdict(list)
    for q in queries[:20]:
        memory.remember(q, top_k=10)
    for q in queries:
        vec = stores.embedder.embed([q])[0]
        for label, statement in RAW.items():
            began = time.perf_counter()
            stores.graph.read(statement, {"v": vec})
            out[f"raw top-10 {label} vector query"].append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        bundle = memory.remember(q, top_k=10)
        out["remember()"].append((time.perf_counter() - began) * 1000)
        out["  semantic_search (facts + entities, one statement)"].append(bundle.timings_ms["semantic_search"])
    return out


def run(merge_factor: int, args: argparse.Namespace, queries: list[str], rng: random.Random) -> dict[str, object]:
    """One fresh stack with this merge factor: writes, segments, timings before and after the repair."""
    stream = turn_stream(args.seed)
    out: dict[str, object] = {}
    options = {"vector_merge_factor": merge_factor}
    with (
        tempfile.TemporaryDirectory(prefix="bench-neo4jidx-") as tmp,
        embedded_stores("", "neo4j", data_dir=Path(tmp), neo4j_options=options) as stores,
        AgentMemory(USER, stores=stores) as memory,
    ):
        home = Path(tmp) / "neo4j" / "db"
        print(f"[merge factor {merge_factor}] storing {args.turns} turns in bulk ...", file=sys.stderr)
        store_until(memory, stream, 0, args.turns)
        print(f"[merge factor {merge_factor}] {args.single_turns} single store_turn calls ...", file=sys.stderr)
        out["store_turn"] = timed_writes(memory, stream, args.single_turns)
        began = time.perf_counter()
        learn(memory, args.facts, args.entities, rng)
        out["write_seconds"] = time.perf_counter() - began
        out["segments_before"] = segments(stores, home)
        print(f"[merge factor {merge_factor}] segments {out['segments_before']}; timing ...", file=sys.stderr)
        out["before"] = measure(memory, stores, queries)
        began = time.perf_counter()
        out["repair"] = [
            h
            for h in reindex.repair_vector_indexes(stores, compact=True, labels=("Fact", "Entity", "Turn"))
            if h.rebuilt
        ]
        out["repair_seconds"] = time.perf_counter() - began
        out["segments_after"] = segments(stores, home)
        print(f"[merge factor {merge_factor}] after repair {out['segments_after']}; timing ...", file=sys.stderr)
        out["after"] = measure(memory, stores, queries)
    return out


def cell(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} / {pct(values, 95):.1f} ms"


def report(runs: dict[int, dict[str, object]]) -> str:
    """The markdown tables of every run."""
    lines = ["| measure (p50 / p95) | " + " | ".join(f"merge factor {mf}" for mf in runs) + " |"]
    lines.append("|---|" + "---|" * len(runs))
    lines.append("| store_turn, one turn | " + " | ".join(cell(r["store_turn"]) for r in runs.values()) + " |")
    for label in [v.name for v in SCHEMA.vectors if v.label in ("Turn", "Fact", "Entity")]:
        lines.append(
            f"| Lucene segments of {label}: after the writes -> after the repair | "
            + " | ".join(
                f"{r['segments_before'].get(label)} -> {r['segments_after'].get(label)}" for r in runs.values()
            )
            + " |"
        )
    lines.append(
        "| single-transaction writes (entities + facts) | "
        + " | ".join(f"{r['write_seconds']:.0f} s" for r in runs.values())
        + " |"
    )
    measures = list(next(iter(runs.values()))["before"])  # type: ignore[call-overload]
    for name in measures:
        lines.append(
            f"| {name}, before the repair | " + " | ".join(cell(r["before"][name]) for r in runs.values()) + " |"
        )
        lines.append(
            f"| {name}, after the repair | " + " | ".join(cell(r["after"][name]) for r in runs.values()) + " |"
        )
    lines.append(
        "| repair (indexes rebuilt, seconds) | "
        + " | ".join((", ".join(f":{h.label} {h.seconds:.1f} s" for h in r["repair"]) or "none") for r in runs.values())
        + " |"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=10_000)
    parser.add_argument("--entities", type=int, default=5_000)
    parser.add_argument("--turns", type=int, default=2_000)
    parser.add_argument("--single-turns", type=int, default=300)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--merge-factor", type=int, nargs="+", default=[50, DEFAULT_VECTOR_MERGE_FACTOR])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    queries = eval_questions(rng, args.queries)
    after_sample = rng.getstate()
    began, load_before = time.perf_counter(), os.getloadavg()
    runs = {}
    for mf in args.merge_factor:
        rng.setstate(after_sample)  # the same facts and entities in every run
        runs[mf] = run(mf, args, queries, rng)
    text = report(runs)
    print(text)
    command = (
        f".venv/bin/python benchmarks/bench_neo4j_indexes.py --facts {args.facts} --entities {args.entities} "
        f"--turns {args.turns} --single-turns {args.single_turns} --queries {args.queries} "
        f"--merge-factor {' '.join(map(str, args.merge_factor))}"
    )
    description = (
        "One user on a private embedded stack per column (PostgreSQL, Redis, a local Neo4j Community 5.26 graph "
        "started with that `internal.dbms.index.vector.standard_merge_factor`; Neo4j's default is 50), hashing "
        f"embedder (384 dimensions), one client thread, a 2-core machine shared with other jobs. {args.turns} turns "
        f"in bulk, then {args.single_turns} turns one store_turn each, {args.entities} entities and {args.facts} "
        "facts one transaction each. Segments are the `.si` files of each vector index on disk. "
        "The repair is `repair_vector_indexes(compact=True)` (`agent-memory reindex --compact`, the weekly "
        f"`weekly_vector_compaction_schedule`). {len(queries)} questions from the retrieval evaluation set."
    )
    write_results(RESULTS, "Neo4j vector-index fragmentation", command, description, began, load_before, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
