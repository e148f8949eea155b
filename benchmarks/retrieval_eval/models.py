"""Embedders × rerankers on the turn-level evaluation set: recall, NDCG and remember() latency, one run.

    .venv/bin/python benchmarks/retrieval_eval/models.py [--embedders hashing local] [--rerankers none features]

For each embedder a private embedded stack (run.py's loading: each conversation its own user, "Speaker: text"
turns with their timestamps); then every question is asked through `Retriever.remember()` once per reranker,
the rerankers alternating question by question so that they share the machine's load. Recall@5/10 and NDCG@10
come from top_k=10 calls, Recall@25 from top_k=25 calls. Latency is remember(top_k=10) with the query's
embedding already in the cache (each question is embedded once first, and that uncached embedding is timed on
its own as "query embedding"). Writes benchmarks/results/recall_models.md unless --no-write.
"""

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/harness.py
sys.path.insert(0, str(Path(__file__).resolve().parent))  # run.py
from harness import pct  # noqa: E402
from run import HERE, load, loaded_stores, score, tables  # noqa: E402

from memory_runtime.retrieval import Retriever  # noqa: E402
from memory_runtime.retrieval.rerank import RERANKERS  # noqa: E402

RESULTS = HERE.parent / "results" / "recall_models.md"
EMBEDDERS = ("hashing", "local")


def run_embedder(embedder: str, rerankers: list[str], convs: list[dict], questions: list[dict]) -> dict:
    """{'ranked': {(reranker, k, qid): ids}, 'latency': {reranker: [ms]}, 'embed': [ms], 'model_id': str}."""
    ranked: dict[tuple[str, int, str], list[str]] = {}
    latency: dict[str, list[float]] = {r: [] for r in rerankers}
    embed_ms: list[float] = []
    with loaded_stores("recmodels", embedder, convs) as (stores, dia):
        for n, q in enumerate(questions, 1):
            t = time.perf_counter()
            stores.embedder.inner.embed([q["question"]])
            embed_ms.append((time.perf_counter() - t) * 1000)
            stores.embedder.embed([q["question"]])  # into the cache, as a repeated or pre-embedded query is
            as_of = datetime.fromisoformat(q["as_of"]) if q.get("as_of") else None
            for reranker in rerankers:
                retriever = Retriever(stores, q["sample_id"], reranker=reranker)  # type: ignore[arg-type]
                for k in (10, 25):
                    t = time.perf_counter()
                    bundle = retriever.remember(
                        q["question"], top_k=k, time_window_hours=q.get("time_window_hours"), as_of=as_of
                    )
                    if k == 10:
                        latency[reranker].append((time.perf_counter() - t) * 1000)
                    user = dia[q["sample_id"]]
                    ranked[reranker, k, q["qid"]] = [user[r.conversation_id, r.index] for r in bundle.relevant_turns]
            if n % 50 == 0 or n == len(questions):
                print(f"\r  {embedder}: asked {n}/{len(questions)}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        return {"ranked": ranked, "latency": latency, "embed": embed_ms, "model_id": stores.embedder.model_id}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedders", nargs="+", default=list(EMBEDDERS), choices=EMBEDDERS)
    parser.add_argument("--rerankers", nargs="+", default=list(RERANKERS), choices=RERANKERS)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    convs, questions = load(HERE / "data")
    rows, details = [], []
    for embedder in args.embedders:
        run = run_embedder(embedder, args.rerankers, convs, questions)
        result = score(run["ranked"], questions, [10, 25], args.rerankers)
        emb = run["embed"]
        for reranker in args.rerankers:
            o, lat = result[reranker]["overall"], run["latency"][reranker]
            rows.append(
                f"| `{run['model_id']}` | {reranker} | {o['R@5']:.3f} | {o['R@10']:.3f} | {o['R@25']:.3f} | "
                f"{o['NDCG@10']:.3f} | {pct(lat, 50):.1f} / {pct(lat, 95):.1f} | "
                f"{pct(emb, 50):.2f} / {pct(emb, 95):.2f} |"
            )
        details.append(
            f"## `{run['model_id']}`: rerankers per category\n\n" + tables(result, questions, args.rerankers)
        )
    table = "\n".join(
        [
            "| embedder | reranker | R@5 | R@10 | R@25 | NDCG@10 | remember p50 / p95 ms | query embed p50 / p95 ms |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(table)
    if not args.no_write:
        n_turns = sum(len(s["turns"]) for c in convs for s in c["sessions"])
        flags = ""
        if args.embedders != list(EMBEDDERS) or args.rerankers != list(RERANKERS):
            flags = f" --embedders {' '.join(args.embedders)} --rerankers {' '.join(args.rerankers)}"
        RESULTS.write_text(
            "# Recall by embedder and reranker\n\n"
            f"Regenerate: `.venv/bin/python benchmarks/retrieval_eval/models.py{flags}`\n\n"
            f"Data: benchmarks/retrieval_eval/data ({len(convs)} conversations, {n_turns} turns, {len(questions)} "
            "questions with turn-level evidence), embedded stack (PostgreSQL + FalkorDB + Redis), no LLM, "
            f"measured {datetime.now():%Y-%m-%d} on a 2-core machine shared with other jobs: compare latencies "
            "within this run only. remember() is timed at top_k=10 with the query embedding cached (the uncached "
            "embedding is its own column; the hashing embedder is never cached: it costs less than a Redis read). "
            "The feature reranker's weights were fitted on this same set (two-fold held-out numbers: "
            "benchmarks/results/rerank_fit.md).\n\n" + table + "\n\n" + "\n\n".join(details) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
