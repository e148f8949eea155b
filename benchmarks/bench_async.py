"""remember() throughput: AsyncAgentMemory coroutines against AgentMemory on a thread pool of the same size.

    .venv/bin/python benchmarks/bench_async.py [--turns 5000] [--facts 500] [--entities 200]
        [--concurrency 1 16 64] [--queries-per-worker 8] [--rounds 2] [--graph falkordb|neo4j|both]

One user on a private embedded stack (hashing embedder, 384 dimensions), seeded once per graph with --turns
LoCoMo-style turns (benchmarks/bench_remember.py's generator) plus --facts facts and --entities entities. At
each concurrency c, the same questions (c × --queries-per-worker of them, from the retrieval evaluation set)
are answered by remember(top_k=10) through (a) one AgentMemory shared by a ThreadPoolExecutor of c threads and
(b) one AsyncAgentMemory driven by c coroutines on one event loop, both on the same settings (so the same pool
sizes). The two alternate, --rounds times each, in one run on the same data; the table gives each side's best
round. Writes benchmarks/results/async.md (FalkorDB), async_neo4j.md or async_graphs.md (both).
"""

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_remember import USER, learn, store_until, turn_stream  # noqa: E402
from harness import GRAPH_NAMES, add_graph_argument, embedded_stores, graph_flag, results_path  # noqa: E402

from memory_runtime.api import AgentMemory  # noqa: E402
from memory_runtime.async_api import AsyncAgentMemory  # noqa: E402
from memory_runtime.stores.async_bundle import AsyncStores  # noqa: E402

RESULTS = HERE / "results" / "async.md"


def sync_round(memory: AgentMemory, queries: list[str], workers: int) -> float:
    """remember() calls per second with `workers` threads sharing one AgentMemory."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        began = time.perf_counter()
        for bundle in pool.map(lambda q: memory.remember(q, top_k=10), queries):
            assert bundle.query
        return len(queries) / (time.perf_counter() - began)


async def async_round(memory: AsyncAgentMemory, queries: list[str], workers: int) -> float:
    """remember() calls per second with `workers` coroutines sharing one AsyncAgentMemory."""
    pending = list(reversed(queries))

    async def worker() -> None:
        while pending:
            bundle = await memory.remember(pending.pop(), top_k=10)
            assert bundle.query

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return len(queries) / (time.perf_counter() - began)


def run(graph: str, args: argparse.Namespace, questions: list[str]) -> list[tuple[int, float, float]]:
    """Seed one graph's stack, then (concurrency, best sync rate, best async rate) for each --concurrency."""
    rows = []
    rng = random.Random(args.seed)
    with embedded_stores("bench-async-", graph) as stores, AgentMemory(USER, stores=stores) as memory:
        print(f"[{graph}] seeding {args.turns} turns ...", file=sys.stderr)
        store_until(memory, turn_stream(args.seed), 0, args.turns)
        learn(memory, args.facts, args.entities, rng)
        with asyncio.Runner() as runner:
            astores = runner.run(AsyncStores.aopen(stores.settings))
            amemory = AsyncAgentMemory(USER, stores=astores)
            try:
                warm = questions[:20]
                for q in warm:  # connections, caches, lazy imports
                    memory.remember(q, top_k=10)
                    runner.run(amemory.remember(q, top_k=10))
                for c in args.concurrency:
                    queries = rng.sample(questions, min(len(questions), c * args.queries_per_worker))
                    sides: dict[str, list[float]] = {"sync": [], "async": []}
                    rounds: list[tuple[str, Callable[[], float]]] = [
                        ("sync", lambda q=queries, n=c: sync_round(memory, q, n)),
                        ("async", lambda q=queries, n=c: runner.run(async_round(amemory, q, n))),
                    ]
                    for r in range(args.rounds):
                        for name, measure in rounds if r % 2 == 0 else rounds[::-1]:
                            sides[name].append(measure())
                    best_sync, best_async = max(sides["sync"]), max(sides["async"])
                    print(f"[{graph}] c={c}: sync {best_sync:.1f}/s, async {best_async:.1f}/s", file=sys.stderr)
                    rows.append((c, best_sync, best_async))
            finally:
                runner.run(amemory.aclose())
                runner.run(astores.aclose())
    return rows


def table(rows: list[tuple[int, float, float]]) -> str:
    lines = [
        "| concurrency | sync: AgentMemory on a thread pool | async: AsyncAgentMemory coroutines | async / sync |",
        "|---|---|---|---|",
    ]
    lines += [f"| {c} | {s:.1f} remember/s | {a:.1f} remember/s | {a / s:.2f}x |" for c, s, a in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=5000)
    parser.add_argument("--facts", type=int, default=500)
    parser.add_argument("--entities", type=int, default=200)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--queries-per-worker", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    add_graph_argument(parser)
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in (HERE / "retrieval_eval/data/questions.jsonl").open()]
    began, load_before = time.perf_counter(), os.getloadavg()
    runs = {graph: run(graph, args, questions) for graph in args.graph}
    load = f"load average {load_before[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    command = (
        f"`.venv/bin/python benchmarks/bench_async.py --turns {args.turns} --facts {args.facts} --entities "
        f"{args.entities} --concurrency {' '.join(map(str, args.concurrency))} --queries-per-worker "
        f"{args.queries_per_worker} --rounds {args.rounds}" + graph_flag(args.graph) + "`"
    )
    body = "".join(
        (f"## {GRAPH_NAMES[graph]}\n\n" if len(runs) > 1 else "") + table(rows) + "\n\n" for graph, rows in runs.items()
    )
    print(body)
    out = results_path(RESULTS, args.graph)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "# remember() throughput: async API against the sync API on threads\n\n"
        f"Regenerate: {command}\n\n"
        f"One user on the embedded stack (PostgreSQL + {' and '.join(GRAPH_NAMES[g] for g in runs)} graph, Redis), "
        f"hashing embedder (384 dimensions), {args.turns} turns, {args.facts} facts and {args.entities} entities "
        "seeded once. At each concurrency c, c × "
        f"{args.queries_per_worker} varied questions answered by remember(top_k=10): by one AgentMemory shared by a "
        "ThreadPoolExecutor of c threads, and by one AsyncAgentMemory driven by c coroutines on one event loop, with "
        f"the same settings (pool sizes) and data; the two alternate, {args.rounds} rounds each, and each side's "
        "best round is shown. The machine has 2 cores shared with other work while this ran, so compare the "
        "columns of one row (measured in the same run), not runs with each other.\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d}; whole run {time.perf_counter() - began:.0f} s; {load}.\n\n"
        + body.rstrip()
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
