"""What tracing costs: remember() and store_turn with MEMORY_TRACING off and on, and the off path per call.

    .venv/bin/python benchmarks/bench_tracing.py [--turns 5000] [--facts 500] [--entities 200]
        [--queries 200] [--writes 200] [--rounds 3] [--graph falkordb|neo4j|both]

One user on a private embedded stack (hashing embedder, 384 dimensions), seeded once per graph. Two AgentMemory
objects share it: one opened while tracing was off (psycopg's and redis-py's own client classes), one opened
with tracing on (the traced client variants), their spans recorded by the SDK with a SimpleSpanProcessor into
its InMemorySpanExporter (span creation and export, no network). Off and on alternate call by call, on the
same questions and turn stream (the order flips each round), so load on the shared machine hits both alike.
The off path of the facade itself (`span()`, a `traced` function, per call) is timed in a loop beside it.
Writes benchmarks/results/tracing.md (FalkorDB), tracing_neo4j.md or tracing_graphs.md (both).
"""

import argparse
import random
import sys
import time
import timeit
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_remember import USER, learn, store_until, turn_stream  # noqa: E402
from harness import (  # noqa: E402
    GRAPH_NAMES,
    add_graph_argument,
    embedded_stores,
    eval_questions,
    graph_flag,
    pct,
    results_path,
)

from memory_runtime import tracing  # noqa: E402
from memory_runtime.api import AgentMemory  # noqa: E402
from memory_runtime.stores.bundle import Stores  # noqa: E402

RESULTS = HERE / "results" / "tracing.md"


def facade_off_ns() -> dict[str, float]:
    """ns per call of the facade with tracing off, against the bare call it wraps."""
    assert not tracing.enabled()

    def bare() -> int:
        return 1

    wrapped = tracing.traced("bench")(bare)

    def in_span() -> int:
        with tracing.span("bench"):
            return 1

    n = 1_000_000
    best = {name: min(timeit.repeat(fn, number=n, repeat=5)) / n * 1e9 for name, fn in
            (("bare call", bare), ("traced call", wrapped), ("with span()", in_span))}  # fmt: skip
    return best


def _remember_traces(exporter) -> set[int]:
    """The trace ids of the recorded remember() calls."""
    return {s.context.trace_id for s in exporter.get_finished_spans() if s.name == "remember"}


def run(graph: str, args: argparse.Namespace, questions: list[str], exporter) -> list[tuple[str, str]]:
    rng = random.Random(args.seed)
    with embedded_stores("bench-tracing-", graph) as stores, AgentMemory(USER, "w-off", stores=stores) as off:
        print(f"[{graph}] seeding {args.turns} turns ...", file=sys.stderr)
        stream = turn_stream(args.seed)
        store_until(off, stream, 0, args.turns)
        learn(off, args.facts, args.entities, rng)
        tracing.configure("otlp")  # the application's provider (below) is used: no exporter of ours
        traced_stores = Stores.open(stores.settings.model_copy(update={"tracing": "otlp"}))
        on = AgentMemory(USER, "w-on", stores=traced_stores)
        try:
            queries = rng.sample(questions, min(args.queries, len(questions)))
            for q in queries[:20]:  # connections, caches, lazy imports, on both
                off.remember(q)
                on.remember(q)
            index = {"w-off": 0, "w-on": 0}
            times: dict[str, dict[str, list[float]]] = {"off": {}, "on": {}}

            def one(side: str, name: str, call) -> None:
                if side == "off":
                    tracing.disable()
                else:
                    tracing.configure("otlp")
                began = time.perf_counter()
                call()
                times[side].setdefault(name, []).append((time.perf_counter() - began) * 1000)

            exporter.clear()
            for r in range(args.rounds):  # off and on alternate call by call (the order flips each round)
                order = ("off", "on") if r % 2 == 0 else ("on", "off")
                for q in queries:
                    for side in order:
                        one(side, "remember", lambda m=(off if side == "off" else on), q=q: m.remember(q))
                for _i in range(args.writes):
                    for side in order:
                        memory = off if side == "off" else on
                        conv = memory.conversation_id
                        turn = next(stream).model_copy(update={"conversation_id": conv, "index": index[conv]})
                        index[conv] += 1
                        one(side, "store_turn", lambda m=memory, t=turn: m.store_turn(t))
            recorded = exporter.get_finished_spans()
            traces = _remember_traces(exporter)
            spans_per_remember = round(sum(1 for s in recorded if s.context.trace_id in traces) / max(len(traces), 1))
        finally:
            tracing.disable()
            on.close()
            traced_stores.close()
    rows = []
    for name in ("remember", "store_turn"):
        o, n = times["off"][name], times["on"][name]
        for p in (50, 95):
            rows.append(
                (f"`{name}` p{p} off / on", f"{pct(o, p):.2f} / {pct(n, p):.2f} ms ({pct(n, p) / pct(o, p):.2f}×)")
            )
    rows.append(("spans per remember() (on)", str(spans_per_remember)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=5000)
    parser.add_argument("--facts", type=int, default=500)
    parser.add_argument("--entities", type=int, default=200)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    add_graph_argument(parser)
    args = parser.parse_args()

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    facade = facade_off_ns()  # before anything turns tracing on
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)

    questions = eval_questions()
    tables = {GRAPH_NAMES[g]: run(g, args, questions, exporter) for g in args.graph}

    graphs = list(tables)
    spans_per_call = max(int(dict(rows)["spans per remember() (on)"]) for rows in tables.values())
    lines = [
        "# Tracing overhead",
        "",
        f"Regenerate with `.venv/bin/python benchmarks/bench_tracing.py{graph_flag(args.graph)} --turns {args.turns}"
        f" --queries {args.queries} --writes {args.writes} --rounds {args.rounds}` "
        f"({datetime.now(UTC):%Y-%m-%d}; one user, {args.turns} turns, {args.facts} facts, {args.entities} "
        "entities, hashing embedder; a shared 2-core machine: compare the ratios, measured in the same run).",
        "",
        "Off: the stores' own client classes and the facade's no-op paths. On: the traced client variants, every "
        "span recorded by the SDK (SimpleSpanProcessor into its InMemorySpanExporter; an OTLP exporter's "
        "BatchSpanProcessor sends from a background thread instead). Off and on alternate call by call.",
        "",
        "| measure | " + " | ".join(graphs) + " |",
        "|---|" + "---|" * len(graphs),
    ]
    names = [n for n, _ in next(iter(tables.values()))]
    lines += [f"| {n} | " + " | ".join(dict(tables[g])[n] for g in graphs) + " |" for n in names]
    lines += [
        "",
        "The facade with tracing off, per call (best of 5 × 1,000,000):",
        "",
        "| call | ns |",
        "|---|---|",
        *[f"| {name} | {ns:.0f} |" for name, ns in facade.items()],
        "",
        f"So a remember() pays about {spans_per_call} × {facade['traced call'] - facade['bare call']:.0f} ns with "
        "tracing off (one no-op check per span it would make), against milliseconds for the call itself.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    path = results_path(RESULTS, args.graph)
    path.write_text(text)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
