"""Integrations benchmark: LangGraph MemoryStore and OpenAI Agents MemorySession against their floors.

    .venv/bin/python benchmarks/bench_integrations.py [--items 2000] [--calls 300] [--concurrency 32]
        [--graph falkordb|neo4j|both]

Starts a private embedded stack, uses the hashing embedder (384 dimensions), and writes
benchmarks/results/integrations.md. Every ratio compares two measures of the same run: a MemoryStore put of a
fact-like item against `learn_fact` (the graph write it adds), a MemorySession `add_items` against the
`store_turn` it makes, and concurrent `asearch` on the asyncio drivers against the sync `search` on a thread
pool of the same size.
"""

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from harness import add_graph_argument, embedded_stores, graph_flag, pct, results_path, side_by_side

from memory_runtime.api import AgentMemory
from memory_runtime.domain.models import Turn
from memory_runtime.integrations.langgraph import MemoryStore
from memory_runtime.integrations.openai_agents import MemorySession
from memory_runtime.stores.async_bundle import AsyncStores

RESULTS = Path(__file__).resolve().parent / "results" / "integrations.md"
WORDS = (
    "tea coffee lisbon porto python rust cats dogs piano chess budget meeting invoice refund kafka postgres "
    "graph vector memory agent latency cache garden kayak marathon beagle wheels parser release"
).split()


def _text(rng: random.Random) -> str:
    return "The user " + " ".join(rng.sample(WORDS, 6))


def _ms(fn: Callable[[], object], calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _p(values: list[float]) -> str:
    return f"{pct(values, 50):.2f} / {pct(values, 95):.2f} ms"


def _throughput_sync(store: MemoryStore, queries: list[str], workers: int) -> float:
    with ThreadPoolExecutor(workers) as pool:
        start = time.perf_counter()
        list(pool.map(lambda q: store.search(("bench",), query=q, limit=10), queries))
        return len(queries) / (time.perf_counter() - start)


async def _throughput_async(settings, queries: list[str], workers: int) -> float:
    stores = await AsyncStores.aopen(settings)
    try:
        store = MemoryStore(stores)
        gate = asyncio.Semaphore(workers)

        async def one(q: str) -> None:
            async with gate:
                await store.asearch(("bench",), query=q, limit=10)

        await one(queries[0])  # opens the pools' connections
        start = time.perf_counter()
        await asyncio.gather(*(one(q) for q in queries))
        return len(queries) / (time.perf_counter() - start)
    finally:
        await stores.aclose()


def run(graph: str, args: argparse.Namespace) -> list[tuple[str, str]]:
    rng = random.Random(7)
    with embedded_stores("bench-integrations-", graph) as stores:
        documents = MemoryStore(stores, user_id="bench", fact_field=None)
        facts = MemoryStore(stores, user_id="bench")
        memory = AgentMemory("bench", "floor", stores=stores)
        for i in range(args.items):  # the corpus searches run over
            documents.put(("bench", "docs"), f"d{i}", {"content": _text(rng), "score": i % 10})
        put_doc = _ms(lambda: documents.put(("bench", "new"), f"n{rng.random()}", {"content": _text(rng)}), args.calls)
        put_fact = _ms(lambda: facts.put(("bench", "facts"), f"f{rng.random()}", {"content": _text(rng)}), args.calls)
        learn = _ms(lambda: memory.learn_fact(_text(rng)), args.calls)
        get = _ms(lambda: documents.get(("bench", "docs"), f"d{rng.randrange(args.items)}"), args.calls)
        semantic = _ms(lambda: documents.search(("bench",), query=" ".join(rng.sample(WORDS, 3))), args.calls)
        filtered = _ms(lambda: documents.search(("bench", "docs"), filter={"score": {"$gte": 8}}), args.calls)

        session = MemorySession("bench-session", memory)
        floor_index = iter(range(10**6))
        turn = _ms(
            lambda: memory.store_turn(Turn(conversation_id="floor", index=next(floor_index), role="user",
                                           content=_text(rng))),
            args.calls,
        )  # fmt: skip
        add = _ms(lambda: asyncio.run(session.add_items([{"role": "user", "content": _text(rng)}])), args.calls)
        items = _ms(lambda: asyncio.run(session.get_items(limit=20)), args.calls)

        queries = [" ".join(rng.sample(WORDS, 3)) for _ in range(args.calls)]
        sync_rate = _throughput_sync(documents, queries, args.concurrency)
        async_rate = asyncio.run(_throughput_async(stores.settings, queries, args.concurrency))
    ratio = pct(put_fact, 50) / pct(learn, 50)
    return [
        ("MemoryStore.put, document, p50 / p95", _p(put_doc)),
        ("MemoryStore.put, fact-like (also learn_fact), p50 / p95", _p(put_fact)),
        ("AgentMemory.learn_fact alone, p50 / p95", _p(learn)),
        ("fact-like put / learn_fact (p50)", f"{ratio:.2f}x"),
        ("MemoryStore.get, p50 / p95", _p(get)),
        (f"MemoryStore.search with query over {args.items} items, p50 / p95", _p(semantic)),
        ("MemoryStore.search with filter only, p50 / p95", _p(filtered)),
        ("AgentMemory.store_turn (the floor), p50 / p95", _p(turn)),
        ("MemorySession.add_items, 1 item, p50 / p95", _p(add)),
        ("add_items / store_turn (p50)", f"{pct(add, 50) / pct(turn, 50):.2f}x"),
        ("MemorySession.get_items(limit=20), p50 / p95", _p(items)),
        (f"search throughput, sync on {args.concurrency} threads", f"{sync_rate:.0f}/s"),
        (f"asearch throughput, asyncio drivers, {args.concurrency} coroutines", f"{async_rate:.0f}/s"),
        ("asearch / sync search throughput", f"{async_rate / sync_rate:.2f}x"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    add_graph_argument(parser)
    args = parser.parse_args()
    tables = {g: run(g, args) for g in args.graph}
    body = side_by_side("measure", tables)
    print(body)
    out = results_path(RESULTS, args.graph)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "# Integrations benchmark\n\n"
        f"Regenerate: `.venv/bin/python benchmarks/bench_integrations.py --items {args.items} --calls {args.calls} "
        f"--concurrency {args.concurrency}{graph_flag(args.graph)}`\n\n"
        "Embedded stores, hashing embedder (384 dimensions), one user, 2-core machine shared with other jobs: "
        "compare the ratios, which are measured in the same run, rather than the absolute times. "
        "`MemorySession` calls are timed from sync code (`asyncio.run` per call, on AgentMemory).\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d}.\n\n" + body + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
