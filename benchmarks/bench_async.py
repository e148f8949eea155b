"""remember() throughput and client CPU: AsyncAgentMemory coroutines against AgentMemory on a thread pool.

    .venv/bin/python benchmarks/bench_async.py [--turns 2000] [--facts 200] [--entities 100]
        [--concurrency 1 16 64] [--queries-per-worker 4] [--rounds 2] [--latency-ms 0 5]
        [--postgres-pool-max 8] [--graph-pool-max 16] [--graph falkordb|neo4j|both]

One user on a private embedded stack (hashing embedder, 384 dimensions), seeded once per graph with --turns
LoCoMo-style turns (benchmarks/bench_remember.py's generator) plus --facts facts and --entities entities. At
each concurrency c, the same questions (c × --queries-per-worker of them, from the retrieval evaluation set)
are answered by remember(top_k=10) through
  (a) one AgentMemory shared by a ThreadPoolExecutor of c threads,
  (b) one AsyncAgentMemory driven by c coroutines on one asyncio event loop, and
  (c) the same on a uvloop event loop (when uvloop is installed),
all on the same settings (the same pool sizes) and data. The sides alternate (the order reversed every
round), --rounds times each, in one run; the table gives each side's best round with the client process's
CPU time per call in that round (the stores run in their own processes). Each --latency-ms above 0 repeats
the measurement with every store connection through a latency-injecting TCP proxy (benchmarks/latency_proxy.py,
its own process) that adds that round-trip time, for both sides alike. Last, the event loop's lag while c=16
remember()s run, as seen by a 1 ms probe task, for the three ways asyncio code can call remember().
Writes benchmarks/results/async.md (with --graph both, a section per graph).
"""

import argparse
import asyncio
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import latency_proxy  # noqa: E402
from bench_remember import USER, learn, store_until, turn_stream  # noqa: E402
from harness import (  # noqa: E402
    GRAPH_NAMES,
    add_graph_argument,
    embedded_stores,
    eval_questions,
    graph_flag,
    pct,
    write_results,
)
from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: E402

from memory_runtime.api import AgentMemory  # noqa: E402
from memory_runtime.async_api import AsyncAgentMemory  # noqa: E402
from memory_runtime.config import Settings  # noqa: E402
from memory_runtime.stores.async_bundle import AsyncStores  # noqa: E402
from memory_runtime.stores.bundle import Stores  # noqa: E402

RESULTS = HERE / "results" / "async.md"
LAG_CONCURRENCY = 16
Measure = tuple[float, float]  # remember/s, client CPU ms per call


def sync_round(memory: AgentMemory, queries: list[str], workers: int) -> Measure:
    """remember() calls per second with `workers` threads sharing one AgentMemory, and CPU ms per call."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        began, cpu = time.perf_counter(), time.process_time()
        for bundle in pool.map(lambda q: memory.remember(q, top_k=10), queries):
            assert bundle.query
        return len(queries) / (time.perf_counter() - began), 1000 * (time.process_time() - cpu) / len(queries)


async def _workers(queries: list[str], workers: int, call: Callable[[str], Any]) -> None:
    pending = list(reversed(queries))

    async def worker() -> None:
        while pending:
            bundle = await call(pending.pop())
            assert bundle.query

    await asyncio.gather(*(worker() for _ in range(workers)))


async def async_round(memory: AsyncAgentMemory, queries: list[str], workers: int) -> Measure:
    """remember() calls per second with `workers` coroutines sharing one AsyncAgentMemory, and CPU ms per call."""
    began, cpu = time.perf_counter(), time.process_time()
    await _workers(queries, workers, lambda q: memory.remember(q, top_k=10))
    return len(queries) / (time.perf_counter() - began), 1000 * (time.process_time() - cpu) / len(queries)


async def lag_round(queries: list[str], workers: int, call: Callable[[str], Any]) -> list[float]:
    """The wake-up delays (ms) of a task sleeping 1 ms while `workers` coroutines answer `queries` by `call`."""
    lags: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            began = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append(1000 * (time.perf_counter() - began) - 1.0)

    prober = asyncio.create_task(probe())
    await _workers(queries, workers, call)
    done.set()
    await prober
    return lags


@dataclass
class AsyncSide:
    """An AsyncAgentMemory on its own event loop (the asyncio one, or uvloop's)."""

    runner: asyncio.Runner
    memory: AsyncAgentMemory


@dataclass
class Rows:
    """One graph's measurements: by added latency, (concurrency, {side: best Measure}); and the loop lags."""

    throughput: dict[float, list[tuple[int, dict[str, Measure]]]] = field(default_factory=dict)
    lag: dict[str, list[float]] = field(default_factory=dict)


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _upstream(uri: str) -> str:
    """The proxy's upstream address for a store URI (unix socket or host:port)."""
    parts = urlsplit(uri)
    if parts.scheme in ("unix", "falkor+unix"):
        return f"unix:{parts.path}"
    return f"{parts.hostname}:{parts.port}"


def _pg_upstream(uri: str) -> str:
    info = conninfo_to_dict(uri)
    host, port = str(info.get("host") or "127.0.0.1"), str(info.get("port") or 5432)
    return f"unix:{host}/.s.PGSQL.{port}" if host.startswith("/") else f"{host}:{port}"


@contextmanager
def proxied(settings: Settings, delay_ms: float) -> Iterator[Settings]:
    """`settings` with every store reached through one latency proxy adding `delay_ms` per round trip."""
    pg, redis, graph = (settings.require(k) for k in ("postgres_uri", "redis_uri", "graph_uri"))
    with latency_proxy.started([_pg_upstream(pg), _upstream(redis), _upstream(graph)], delay_ms) as ports:
        scheme = "falkor" if settings.graph_backend == "falkordb" else urlsplit(graph).scheme
        query = urlsplit(graph).query
        yield settings.model_copy(
            update={
                "postgres_uri": make_conninfo(pg, host="127.0.0.1", port=str(ports[0])),
                "redis_uri": f"redis://127.0.0.1:{ports[1]}",
                "graph_uri": f"{scheme}://127.0.0.1:{ports[2]}" + (f"?{query}" if query else ""),
            }
        )


@contextmanager
def async_sides(settings: Settings) -> Iterator[dict[str, AsyncSide]]:
    """An AsyncAgentMemory per event-loop kind, each on its own AsyncStores (pools belong to their loop)."""
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop] | None] = {"async": None}
    if (uv := _uvloop_factory()) is not None:
        factories["uvloop"] = uv
    with ExitStack() as stack:
        sides = {}
        for name, factory in factories.items():
            runner = stack.enter_context(asyncio.Runner(loop_factory=factory))
            astores = runner.run(AsyncStores.aopen(settings))
            stack.callback(lambda r=runner, s=astores: r.run(s.aclose()))
            sides[name] = AsyncSide(runner, AsyncAgentMemory(USER, stores=astores))
        yield sides


def measure(
    memory: AgentMemory, sides: dict[str, AsyncSide], args: argparse.Namespace, questions: list[str]
) -> list[tuple[int, dict[str, Measure]]]:
    """(concurrency, best round of each side) for each --concurrency, the sides alternating."""
    rng = random.Random(args.seed)
    for q in questions[:20]:  # connections, caches, lazy imports
        memory.remember(q, top_k=10)
        for side in sides.values():
            side.runner.run(side.memory.remember(q, top_k=10))
    rows = []
    for c in args.concurrency:
        queries = rng.sample(questions, min(len(questions), c * args.queries_per_worker))
        rounds: list[tuple[str, Callable[[], Measure]]] = [("sync", lambda q=queries, n=c: sync_round(memory, q, n))]
        rounds += [
            (name, lambda q=queries, n=c, s=side: s.runner.run(async_round(s.memory, q, n)))
            for name, side in sides.items()
        ]
        got: dict[str, list[Measure]] = {name: [] for name, _ in rounds}
        for r in range(args.rounds):
            for name, run_side in rounds if r % 2 == 0 else rounds[::-1]:
                got[name].append(run_side())
        best = {name: max(values) for name, values in got.items()}
        print(f"  c={c}: " + ", ".join(f"{n} {v[0]:.1f}/s {v[1]:.1f} ms CPU" for n, v in best.items()), file=sys.stderr)
        rows.append((c, best))
    return rows


def loop_lags(memory: AgentMemory, side: AsyncSide, questions: list[str]) -> dict[str, list[float]]:
    """Probe lags (ms) at LAG_CONCURRENCY for: the sync API called in the coroutine (it blocks the loop), the
    sync API on a thread pool (`run_in_executor`), and AsyncAgentMemory."""
    queries = questions[: LAG_CONCURRENCY * 4]
    pool = ThreadPoolExecutor(max_workers=LAG_CONCURRENCY)

    async def in_thread(q: str) -> Any:
        return await asyncio.get_running_loop().run_in_executor(pool, lambda: memory.remember(q, top_k=10))

    async def in_coroutine(q: str) -> Any:
        return memory.remember(q, top_k=10)

    with pool:
        return {
            "sync API called in the coroutine": side.runner.run(lag_round(queries, LAG_CONCURRENCY, in_coroutine)),
            "sync API on a thread pool (run_in_executor)": side.runner.run(
                lag_round(queries, LAG_CONCURRENCY, in_thread)
            ),
            "AsyncAgentMemory": side.runner.run(
                lag_round(queries, LAG_CONCURRENCY, lambda q: side.memory.remember(q, top_k=10))
            ),
        }


def run(graph: str, args: argparse.Namespace, questions: list[str]) -> Rows:
    """Seed one graph's stack, then measure it directly and through the latency proxy."""
    rows = Rows()
    pools = {"postgres_pool_max": args.postgres_pool_max, "graph_pool_max": args.graph_pool_max}
    with embedded_stores("bench-async-", graph, **pools) as stores, AgentMemory(USER, stores=stores) as memory:
        print(f"[{graph}] seeding {args.turns} turns ...", file=sys.stderr)
        store_until(memory, turn_stream(args.seed), 0, args.turns)
        learn(memory, args.facts, args.entities, random.Random(args.seed))
        for delay in args.latency_ms:
            print(f"[{graph}] added round-trip latency {delay} ms", file=sys.stderr)
            with ExitStack() as stack:
                settings = stores.settings if delay == 0 else stack.enter_context(proxied(stores.settings, delay))
                target = memory
                if delay:
                    target = stack.enter_context(AgentMemory(USER, stores=stack.enter_context(Stores.open(settings))))
                sides = stack.enter_context(async_sides(settings))
                rows.throughput[delay] = measure(target, sides, args, questions)
                if delay == 0:
                    rows.lag = loop_lags(target, sides["async"], questions)
    return rows


def _cell(m: Measure) -> str:
    return f"{m[0]:.1f}/s, {m[1]:.1f} ms"


def tables(rows: Rows) -> str:
    """The throughput tables (one per added latency) and the loop-lag table of one graph."""
    out = []
    for delay, measured in rows.throughput.items():
        sides = list(measured[0][1])
        title = "no added latency (direct connections)" if delay == 0 else f"{delay:g} ms added per round trip (proxy)"
        head = ["concurrency", "sync: AgentMemory on c threads", "async: asyncio loop"]
        head += ["async: uvloop"] if "uvloop" in sides else []
        head += ["async / sync"] + (["uvloop / sync"] if "uvloop" in sides else [])
        lines = [f"**{title}** (remember/s, client CPU per call)", "", "| " + " | ".join(head) + " |"]
        lines.append("|" + "---|" * len(head))
        for c, best in measured:
            cells = [str(c)] + [_cell(best[s]) for s in sides]
            cells += [f"{best[s][0] / best['sync'][0]:.2f}x" for s in sides if s != "sync"]
            lines.append("| " + " | ".join(cells) + " |")
        out.append("\n".join(lines))
    if rows.lag:
        lines = [
            f"**Event-loop lag while {LAG_CONCURRENCY} remember()s run** (a task sleeping 1 ms: how late it woke)",
            "",
            "| remember() called as | probes | p50 | p99 | max |",
            "|---|---|---|---|---|",
        ]
        for how, lags in rows.lag.items():
            lines.append(
                f"| {how} | {len(lags)} | {pct(lags, 50):.1f} ms | {pct(lags, 99):.1f} ms | {max(lags):.1f} ms |"
            )
        out.append("\n".join(lines))
    return "\n\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--facts", type=int, default=200)
    parser.add_argument("--entities", type=int, default=100)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--queries-per-worker", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0, 5], help="added round-trip times")
    parser.add_argument("--postgres-pool-max", type=int, default=8, help="MEMORY_POSTGRES_POOL_MAX of both sides")
    parser.add_argument("--graph-pool-max", type=int, default=16, help="MEMORY_GRAPH_POOL_MAX of both sides")
    parser.add_argument("--seed", type=int, default=7)
    add_graph_argument(parser)
    args = parser.parse_args()
    questions = eval_questions()
    began, load_before = time.perf_counter(), os.getloadavg()
    runs = {graph: run(graph, args, questions) for graph in args.graph}
    command = (
        f".venv/bin/python benchmarks/bench_async.py --turns {args.turns} --facts {args.facts} --entities "
        f"{args.entities} --concurrency {' '.join(map(str, args.concurrency))} --queries-per-worker "
        f"{args.queries_per_worker} --rounds {args.rounds} --latency-ms {' '.join(f'{d:g}' for d in args.latency_ms)}"
        f" --postgres-pool-max {args.postgres_pool_max} --graph-pool-max {args.graph_pool_max}" + graph_flag(args.graph)
    )
    heading = {graph: f"## {GRAPH_NAMES[graph]}\n\n" if len(runs) > 1 else "" for graph in runs}
    body = "".join(heading[graph] + tables(rows) + "\n\n" for graph, rows in runs.items())
    print(body)
    description = (
        f"One user on the embedded stack (PostgreSQL + {' and '.join(GRAPH_NAMES[g] for g in runs)} graph, Redis), "
        f"hashing embedder (384 dimensions), {args.turns} turns, {args.facts} facts and {args.entities} entities "
        f"seeded once. At each concurrency c, c × {args.queries_per_worker} varied questions answered by "
        "remember(top_k=10): by one AgentMemory shared by a ThreadPoolExecutor of c threads, and by one "
        "AsyncAgentMemory driven by c coroutines on one asyncio (or uvloop) event loop, with the same settings (pool "
        f"sizes: {args.postgres_pool_max} PostgreSQL, {args.graph_pool_max} graph, 32 Redis connections) and data; "
        f"the sides alternate, {args.rounds} rounds each, and each side's best round is shown with "
        "the client process's CPU time per call in that round (the stores are other processes). The proxy rows "
        "send every store connection through benchmarks/latency_proxy.py (its own process), which adds the stated "
        "round-trip time, for both sides alike. The machine has 2 cores shared with other work while this ran, so "
        "compare the columns of one row (measured in the same run), not runs with each other."
    )
    title = "remember() throughput and client CPU: async API against the sync API on threads"
    # one file: a --graph both run has a section per graph
    write_results(RESULTS, title, command, description, began, load_before, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
