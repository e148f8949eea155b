"""How many neighbours the fact and entity vector searches must ask the HNSW index for: recall of the top 20
against the exact scan, and the cost, per k.

    .venv/bin/python benchmarks/hnsw_breadth.py --data-dir DIR [--graph falkordb|neo4j] [--queries 100]

On the data profile_remember.py builds and keeps in --data-dir (one user owning every fact and entity, so
the user filter discards nothing and any over-fetch is search breadth alone). For each k it runs remember()'s
own fact and entity vector statements (`retrieval._fact_vector`, `_entity_vector`, top 20 kept) over
--queries of the bench's questions and prints recall@20 against the exact statement, how many of the top-20
lists are identical to the exact ones, and the statement's median time (FalkorDB: the server's own execution
time; Neo4j: the client's wall time, Bolt round trip included). FalkorDB 4.16 takes no search breadth at query
time (`efRuntime` is fixed when the index is created; the breadth is max(efRuntime, k)) and Neo4j 5.26's
`db.index.vector.queryNodes` searches with breadth k, so k is the only knob remember() has.
"""

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "retrieval_eval"))

import bench_remember as br  # noqa: E402
from harness import eval_questions  # noqa: E402
from profile_remember import kept_stores  # noqa: E402

from memory_runtime.stores.graph.queries import retrieval as q  # noqa: E402

KS = (400, 200, 100, 60, 40, 20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--graph", choices=["falkordb", "neo4j"], default="falkordb")
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    queries = eval_questions(random.Random(7), args.queries)
    with kept_stores(args.data_dir, args.graph) as stores:
        graph, d = stores.graph, stores.graph.dialect
        vecs = [stores.embedder.embed([text])[0] for text in queries]
        base = {"user_id": br.USER, "as_of": None, "limit": 20}

        def timed(cypher: str, params: dict[str, Any]) -> tuple[list[str], float]:
            if args.graph == "falkordb":
                result = graph._graph.ro_query(cypher, params)
                ids = [row[1]["id"] for row in result.result_set]
                return ids, float(result.run_time_ms)
            began = time.perf_counter()
            rows = graph.read(cypher, params)
            return [r["item"]["id"] for r in rows], (time.perf_counter() - began) * 1000

        print(f"{args.graph}, {len(queries)} questions, top 20 of each search against the exact scan")
        print("| search | k | recall@20 | identical top 20 | median ms |")
        print("|---|---|---|---|---|")
        for name, approx, exact in (
            ("fact", q._fact_vector(d, False), q._fact_vector(d, True)),
            ("entity", q._entity_vector(d, False), q._entity_vector(d, True)),
        ):
            truth, times = zip(*(timed(exact, {**base, "vec": v}) for v in vecs), strict=True)
            print(f"| {name} | exact scan | 1 | {len(vecs)}/{len(vecs)} | {statistics.median(times):.2f} |")
            for k in KS:
                found, times = zip(*(timed(approx, {**base, "vec": v, "k": k}) for v in vecs), strict=True)
                recall = statistics.mean(
                    len(set(a) & set(e)) / max(1, len(e)) for a, e in zip(found, truth, strict=True)
                )
                same = sum(a == list(e) for a, e in zip(found, truth, strict=True))
                print(f"| {name} | {k} | {recall:.3f} | {same}/{len(vecs)} | {statistics.median(times):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
