"""remember() latency at 10k and 100k stored turns, against the raw vector-query floor.

    .venv/bin/python benchmarks/bench_remember.py [--turns 10000 100000] [--queries 300] [--facts 10000]
        [--graph falkordb|neo4j|both]

One user on a private embedded stack (hashing embedder, 384 dimensions). Turns are LoCoMo-style chat from
benchmarks/retrieval_eval/generate.py (fresh conversations per seed, so the vocabulary grows with the
history as it would), stored with store_turns in batches of 500; the user also gets --facts facts
(AgentMemory.learn_fact) and --entities entities (upsert_entity). At each size, --queries varied questions
(from retrieval_eval/data/questions.jsonl) are timed through AgentMemory.remember(top_k=10) and, in the same
run, as a single raw top-10 query on the graph's Turn vector index (the floor). The 100k step reuses the
10k data. `--graph neo4j` puts the graph on a private local Neo4j Community server (memory_ops.stack.neo4j);
`--graph both` runs FalkorDB and then Neo4j on the same data and prints a side-by-side table as well. Writes
benchmarks/results/remember.md (FalkorDB), remember_neo4j.md or remember_graphs.md (both).
"""

import argparse
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "retrieval_eval"))

import generate  # noqa: E402  (the evaluation set's generator, for realistic chat text)
import lexicon  # noqa: E402
from harness import (  # noqa: E402
    GRAPH_NAMES,
    RAW_TURN_VECTOR_QUERY,
    add_graph_argument,
    embedded_stores,
    eval_questions,
    graph_flag,
    pct,
    progress,
    results_path,
    side_by_side,
    write_results,
)

from memory_runtime.api import AgentMemory  # noqa: E402
from memory_runtime.config import Settings  # noqa: E402
from memory_runtime.domain.models import Entity, Turn  # noqa: E402
from memory_runtime.stores.bundle import Stores  # noqa: E402

RESULTS = HERE / "results" / "remember.md"
USER = "bench-user"


def turn_stream(seed: int):
    """Endless generated conversations as Turns (one conversation id per session), oldest first."""
    rng = random.Random(seed)
    names = [(n, "she") for n in lexicon.NAMES["she"]] + [(n, "he") for n in lexicon.NAMES["he"]]
    start = datetime(2021, 1, 1, tzinfo=UTC)
    for sample in range(1, 10**6):
        pair = rng.sample(names, 2)
        conv = generate.build_conversation(rng, sample, pair)
        shift = timedelta(days=3 * sample)
        for s in conv.sessions:
            cid = f"c{sample:05d}-s{s['session']:02d}"
            for t in s["turns"]:
                yield Turn(
                    conversation_id=cid,
                    index=t["index"],
                    role=t["role"],
                    content=f"{t['speaker']}: {t['text']}",
                    timestamp=start
                    + shift
                    + (datetime.fromisoformat(t["timestamp"]) - datetime(2023, 1, 1, tzinfo=UTC)),
                )


def store_until(memory: AgentMemory, stream, have: int, target: int, batch: int = 500) -> int:
    started, done = time.perf_counter(), 0
    while have + done < target:
        turns = [next(stream) for _ in range(min(batch, target - have - done))]
        memory.store_turns(turns)
        done += len(turns)
        progress("turns", done, target - have, started)
    print(file=sys.stderr)
    return have + done


def learn(memory: AgentMemory, facts: int, entities: int, rng: random.Random) -> None:
    """Facts and entities with vocabulary from the generator's word banks."""
    people = lexicon.NAMES["she"] + lexicon.NAMES["he"]
    things = [t[0] for t in lexicon.TRIPS] + [j[0] for j in lexicon.JOBS] + [h[0] for h in lexicon.HOBBIES]
    things += [m[0] for m in lexicon.MUSIC] + [f[0] for f in lexicon.FOODS] + lexicon.PET_NAMES
    started = time.perf_counter()
    for i in range(entities):
        name = f"{rng.choice(people)} {rng.choice(things)} {i}"
        memory.upsert_entity(
            Entity(
                name=name,
                type=rng.choice(["Person", "Location", "Concept", "Organization"]),
                description=f"mentioned while talking about {rng.choice(things)}",
            )
        )
        if (i + 1) % 250 == 0 or i + 1 == entities:
            progress("entities", i + 1, entities, started)
    print(file=sys.stderr)
    verbs = ["likes", "visited", "works as", "adopted", "started", "recommended", "cooked", "bought", "ran"]
    started = time.perf_counter()
    for i in range(facts):
        claim = f"{rng.choice(people)} {rng.choice(verbs)} {rng.choice(things)} (note {i})"
        memory.learn_fact(claim, confidence=round(rng.uniform(0.5, 1.0), 2))
        if (i + 1) % 250 == 0 or i + 1 == facts:
            progress("facts", i + 1, facts, started)
    print(file=sys.stderr)


def measure(memory: AgentMemory, stores: Stores, queries: list[str], graph: str) -> dict[str, list[float]]:
    """remember() and raw vector-query latencies (ms) over `queries`, after a short warm-up."""
    raw = RAW_TURN_VECTOR_QUERY[graph]
    out: dict[str, list[float]] = defaultdict(list)
    for q in queries[:20]:  # warm-up: connections, caches
        memory.remember(q, top_k=10)
    for n, q in enumerate(queries):
        if getattr(stores.embedder.inner, "worth_caching", True):  # a model: also time a query never embedded
            t = time.perf_counter()
            memory.remember(f"{q} ({n})", top_k=10)
            out["remember(), query not in the embedding cache"].append((time.perf_counter() - t) * 1000)
        vec = stores.embedder.embed([q])[0]
        t = time.perf_counter()
        stores.graph.read(raw, {"v": vec})
        out["raw vector query"].append((time.perf_counter() - t) * 1000)
        t, cpu = time.perf_counter(), time.process_time()
        bundle = memory.remember(q, top_k=10)
        out["remember()"].append((time.perf_counter() - t) * 1000)
        out["remember() client CPU"].append((time.process_time() - cpu) * 1000)
        t = time.perf_counter()
        memory.remember(q, top_k=10, include_semantic=False, include_procedural=False)
        out["remember(), turns only"].append((time.perf_counter() - t) * 1000)
        for name, ms in bundle.timings_ms.items():
            out[f"  {name}"].append(ms)
        t = time.perf_counter()
        bundle.to_context_string(max_tokens=1500)
        out["  packing"].append((time.perf_counter() - t) * 1000)
    return out


def run(
    graph: str, args: argparse.Namespace, queries: list[str], rng: random.Random
) -> dict[int, dict[str, list[float]]]:
    """Store, learn (facts and entities drawn from `rng`) and time at every size of --turns on one graph
    backend; {size: {measure: [ms]}}."""
    stream = turn_stream(args.seed)
    results: dict[int, dict[str, list[float]]] = {}
    with (
        embedded_stores("bench-remember-", graph, embedding_provider=args.embedder) as stores,
        AgentMemory(USER, stores=stores) as memory,
    ):
        have = 0
        for i, target in enumerate(sorted(args.turns)):
            print(f"[{graph}] storing turns up to {target} ...", file=sys.stderr)
            have = store_until(memory, stream, have, target)
            if i == 0 and (args.facts or args.entities):
                print(f"[{graph}] learning {args.facts} facts and {args.entities} entities ...", file=sys.stderr)
                learn(memory, args.facts, args.entities, rng)
            print(f"[{graph}] timing {len(queries)} queries at {have} turns ...", file=sys.stderr)
            results[have] = measure(memory, stores, queries, graph)
    return results


def table(results: dict[int, dict[str, list[float]]]) -> tuple[str, str]:
    """The p50/p95 table of one graph's run and its remember()/raw ratio line."""
    sizes = sorted(results)
    names = list(results[sizes[-1]])
    header = "| measure | " + " | ".join(f"p50 @ {n // 1000}k | p95 @ {n // 1000}k" for n in sizes) + " |"
    rule = "|---|" + "---|---|" * len(sizes)
    rows = [header, rule]
    for name in names:
        cells = []
        for n in sizes:
            v = results[n].get(name, [])
            cells += [f"{statistics.median(v):.1f} ms", f"{pct(v, 95):.1f} ms"] if v else ["", ""]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    ratio = [f"{n // 1000}k: " + _ratios(results[n]) for n in sizes]
    return "\n".join(rows), "; ".join(ratio)


def _ratios(measures: dict[str, list[float]]) -> str:
    """The p95 ratios to the raw floor of one size: the full call, and the turn section alone."""
    floor = pct(measures["raw vector query"], 95)
    line = f"p95 remember() / p95 raw = {pct(measures['remember()'], 95) / floor:.1f}x"
    if turns := measures.get("remember(), turns only"):
        line += f" (turns only {pct(turns, 95) / floor:.1f}x)"
    return line


def summary(results: dict[int, dict[str, list[float]]]) -> list[tuple[str, str]]:
    """The headline measures of one graph's run (for the side-by-side table)."""
    rows = []
    for n in sorted(results):
        for name in ("remember()", "remember(), turns only", "remember() client CPU", "raw vector query"):
            v = results[n][name]
            rows.append((f"{name.strip()} p50 @ {n // 1000}k", f"{statistics.median(v):.1f} ms"))
            rows.append((f"{name.strip()} p95 @ {n // 1000}k", f"{pct(v, 95):.1f} ms"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--facts", type=int, default=10_000)
    parser.add_argument("--entities", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--embedder", choices=["hashing", "local"], default="hashing")
    add_graph_argument(parser)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    queries = eval_questions(rng, args.queries)
    began, load_before = time.perf_counter(), os.getloadavg()
    runs: dict[str, dict[int, dict[str, list[float]]]] = {}
    after_sample = rng.getstate()
    for graph in args.graph:
        rng.setstate(after_sample)  # the same facts and entities on every graph
        runs[graph] = run(graph, args, queries, rng)
    sections = []
    for graph, results in runs.items():
        text, ratio = table(results)
        print(f"{graph}:\n{text}\n{ratio}" if len(runs) > 1 else f"{text}\n{ratio}")
        sections.append((graph, text, ratio))
    both = side_by_side("measure", {g: summary(r) for g, r in runs.items()}) if len(runs) > 1 else ""
    if both:
        print(both)
    command = (
        f".venv/bin/python benchmarks/bench_remember.py --turns {' '.join(map(str, args.turns))} "
        f"--queries {args.queries} --facts {args.facts} --entities {args.entities}"
        + (f" --embedder {args.embedder}" if args.embedder != "hashing" else "")
        + graph_flag(args.graph)
    )
    graphs = " and ".join(GRAPH_NAMES[g] for g in runs)
    body = "".join(
        (f"## {GRAPH_NAMES[graph]}\n\n" if len(runs) > 1 else "") + text + "\n\n" + ratio + "\n\n"
        for graph, text, ratio in sections
    )
    out = results_path(RESULTS if args.embedder == "hashing" else RESULTS.with_stem("remember_local"), args.graph)
    embedder = {
        "hashing": "hashing embedder (384 dimensions)",
        "local": "the local embedder (all-MiniLM-L6-v2 int8 on ONNX Runtime, 384 dimensions, one thread; the query "
        "embedding cached in Redis, except in the row that says otherwise, where each query is new)",
    }[args.embedder]
    description = (
        f"One user on the embedded stack (PostgreSQL + {graphs} graph, Redis), {embedder}, "
        f"one client thread, 2-core machine; {args.facts} facts and {args.entities} entities besides the turns. "
        f"{len(queries)} varied questions from the retrieval evaluation set; remember(top_k=10) runs every "
        "section (turns, facts, entities, strategies, goals, profile) with the default reranker "
        f"(MEMORY_RERANKER={Settings().reranker}). `raw vector query` is one top-10 "
        "query on the graph's Turn vector index (`db.idx.vector.queryNodes` / `db.index.vector.queryNodes`), the "
        "floor. `remember(), turns only` is the same call without facts, entities and strategies "
        "(include_semantic=False, include_procedural=False), the turn section alone; `remember() client CPU` is "
        "this process's CPU time (every thread, `time.process_time`) during the full call: the "
        "client's own work, the stores being other processes. Indented rows are remember()'s own `timings_ms` "
        "(fulltext and vector are the turn strategies, context the neighbour fetch, episodic the whole turn "
        "section, semantic_done when facts/entities were ready, total), and `packing` is the bundle's "
        "to_context_string(max_tokens=1500) after the call."
    )
    body = (both + "\n\n" if both else "") + body
    write_results(out, "remember() latency", command, description, began, load_before, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
