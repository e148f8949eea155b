"""remember() latency at 10k and 100k stored turns, against the raw vector-query floor.

    .venv/bin/python benchmarks/bench_remember.py [--turns 10000 100000] [--queries 300] [--facts 10000]

One user on a private embedded stack (hashing embedder, 384 dimensions). Turns are LoCoMo-style chat from
benchmarks/retrieval_eval/generate.py (fresh conversations per seed, so the vocabulary grows with the
history as it would), stored with store_turns in batches of 500; the user also gets --facts facts
(AgentMemory.learn_fact) and --entities entities (upsert_entity). At each size, --queries varied questions
(from retrieval_eval/data/questions.jsonl) are timed through AgentMemory.remember(top_k=10) and, in the same
run, as a single raw top-10 query on the graph's Turn vector index (the floor). The 100k step reuses the
10k data. Writes benchmarks/results/remember.md.
"""

import argparse
import json
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
from harness import embedded_stores, pct, progress  # noqa: E402

from memory_runtime.api import AgentMemory  # noqa: E402
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


def measure(memory: AgentMemory, stores: Stores, queries: list[str]) -> dict[str, list[float]]:
    """remember() and raw vector-query latencies (ms) over `queries`, after a short warm-up."""
    graph = stores.graph
    raw = "CALL db.idx.vector.queryNodes('Turn', 'embedding', 10, vecf32($v)) YIELD node, score RETURN node.id, score"
    out: dict[str, list[float]] = defaultdict(list)
    for q in queries[:20]:  # warm-up: connections, caches
        memory.remember(q, top_k=10)
    for q in queries:
        vec = stores.embedder.embed([q])[0]
        t = time.perf_counter()
        graph.read(raw, {"v": vec})
        out["raw vector query"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        bundle = memory.remember(q, top_k=10)
        out["remember()"].append((time.perf_counter() - t) * 1000)
        for name, ms in bundle.timings_ms.items():
            out[f"  {name}"].append(ms)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--facts", type=int, default=10_000)
    parser.add_argument("--entities", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    questions = [json.loads(line)["question"] for line in (HERE / "retrieval_eval/data/questions.jsonl").open()]
    queries = rng.sample(questions, min(args.queries, len(questions)))
    stream = turn_stream(args.seed)
    results: dict[int, dict[str, list[float]]] = {}
    began = time.perf_counter()
    with embedded_stores("bench-remember-") as stores, AgentMemory(USER, stores=stores) as memory:
        have = 0
        for i, target in enumerate(sorted(args.turns)):
            print(f"storing turns up to {target} ...", file=sys.stderr)
            have = store_until(memory, stream, have, target)
            if i == 0 and (args.facts or args.entities):
                print(f"learning {args.facts} facts and {args.entities} entities ...", file=sys.stderr)
                learn(memory, args.facts, args.entities, rng)
            print(f"timing {len(queries)} queries at {have} turns ...", file=sys.stderr)
            results[have] = measure(memory, stores, queries)
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
    ratio = [
        f"{n // 1000}k: p95 remember() / p95 raw = "
        f"{pct(results[n]['remember()'], 95) / pct(results[n]['raw vector query'], 95):.1f}x"
        for n in sizes
    ]
    table = "\n".join(rows)
    print(table)
    print("; ".join(ratio))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        "# remember() latency\n\n"
        f"Regenerate: `.venv/bin/python benchmarks/bench_remember.py --turns {' '.join(map(str, args.turns))} "
        f"--queries {args.queries} --facts {args.facts} --entities {args.entities}`\n\n"
        f"One user on the embedded stack (PostgreSQL + FalkorDB/Redis), hashing embedder (384 dimensions), one "
        f"client thread, 2-core machine; {args.facts} facts and {args.entities} entities besides the turns. "
        f"{len(queries)} varied questions from the retrieval evaluation set; remember(top_k=10) runs every "
        "section (turns, facts, entities, strategies, goals, profile). `raw vector query` is one top-10 "
        "query on the graph's Turn vector index (`db.idx.vector.queryNodes`), the floor. Indented rows are "
        "remember()'s own `timings_ms` (fulltext and vector are the turn strategies, context the neighbour "
        "fetch, episodic the whole turn section, semantic_done when facts/entities were ready, total).\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d}; whole run {time.perf_counter() - began:.0f} s.\n\n"
        + table
        + "\n\n"
        + "; ".join(ratio)
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
