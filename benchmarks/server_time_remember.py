"""FalkorDB's own execution time of the graph statements remember() issues, against the raw vector floor's.

    .venv/bin/python benchmarks/server_time_remember.py --data-dir DIR [--queries 100]

Wall-clock latency on a shared 2-core machine moves with the neighbours' load; the time FalkorDB reports for
a statement ("Query internal execution time") moves much less. This records every graph statement of
--queries remember(top_k=10) calls (the bench's questions, on the data profile_remember.py builds and keeps in
--data-dir: run that first), runs each again with GRAPH.RO_QUERY, and prints per statement kind how many a call
issues and their server time per call, beside the raw top-10 Turn vector query's. It also prints the client's
own CPU time per call (every thread of this process, `time.process_time`, over --queries further calls that
record nothing): on 2 cores a remember() costs the client about as much CPU as the stores together, so the
wall time is bounded by their sum. Run it from two checkouts on the same --data-dir, alternating, to compare
code versions.
"""

import argparse
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "retrieval_eval"))

import bench_remember as br  # noqa: E402
from harness import RAW_TURN_VECTOR_QUERY, eval_questions  # noqa: E402
from profile_remember import kept_stores  # noqa: E402

from memory_runtime.api import AgentMemory  # noqa: E402


def kind(cypher: str) -> str:
    """A short name for a recorded statement: its builder's first clause."""
    first = next(line for line in cypher.strip().splitlines() if line.strip())
    return " ".join(first.split())[:60]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    queries = eval_questions(random.Random(7), args.queries)
    recorded: list[tuple[str, Any]] = []
    with kept_stores(args.data_dir, "falkordb") as stores, AgentMemory(br.USER, stores=stores) as memory:
        graph = stores.graph
        for q in queries[:10]:  # warm-up: caches, corpus statistics
            memory.remember(q, top_k=10)
        read = graph.read

        def recording(cypher: str, params: Any = None, **kwargs: Any) -> Any:
            recorded.append((cypher, params))
            return read(cypher, params, **kwargs)

        graph.__dict__["read"] = recording
        for q in queries:
            memory.remember(q, top_k=10)
        del graph.__dict__["read"]
        cpu, wall = time.process_time(), time.perf_counter()
        for q in queries:
            memory.remember(q, top_k=10)
        cpu, wall = (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000
        server: dict[str, list[float]] = defaultdict(list)
        for cypher, params in recorded:
            server[kind(cypher)].append(graph._graph.ro_query(cypher, params).run_time_ms)
        floor = [
            graph._graph.ro_query(RAW_TURN_VECTOR_QUERY["falkordb"], {"v": stores.embedder.embed([q])[0]}).run_time_ms
            for q in queries
        ]
    n = len(queries)
    total = sum(sum(v) for v in server.values()) / n
    print(f"{n} remember() calls: {len(recorded) / n:.2f} graph statements and {total:.2f} ms of FalkorDB time a call")
    print(f"raw top-10 vector query: {statistics.mean(floor):.2f} ms mean, {statistics.median(floor):.2f} ms median")
    print(f"ratio: {total / statistics.mean(floor):.1f}x the floor's server time")
    print(f"client CPU {cpu / n:.2f} ms a call (wall {wall / n:.2f} ms a call; load average {os.getloadavg()[0]:.2f})")
    for name, times in sorted(server.items(), key=lambda kv: -sum(kv[1])):
        print(f"  {sum(times) / n:6.2f} ms a call  {len(times) / n:4.2f} a call  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
