"""Fits the feature reranker's weights (memory_runtime/retrieval/rerank_weights.json) on the evaluation set.

    .venv/bin/python benchmarks/retrieval_eval/fit_reranker.py [--embedders hashing local] [--no-write]

For each embedder (hashing → the "lexical" weight set, local → "semantic"), a private embedded stack is
loaded with data/ as run.py does; every question is asked through `Retriever.remember(top_k=10)` with a
recording reranker that keeps the fused order and notes the features of the candidates it was given (the
best 150 fused turns) and which of them are gold evidence. A linear model is fitted with a
pairwise logistic loss (every gold candidate against every other candidate of its question, L2 0.01, Adam),
two-fold by conversation (even / odd sample ids): the held-out rows are what the weights do on conversations
they were not fitted on. For each set the rerank depth (how many fused candidates it orders: --depths) with
the best held-out Recall@10 is shipped, with weights fitted at that depth on all questions. Also writes
benchmarks/results/rerank_fit.md.
"""

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/harness.py
sys.path.insert(0, str(Path(__file__).resolve().parent))  # run.py
from run import HERE, load, loaded_stores, ndcg, recall  # noqa: E402

from memory_runtime.retrieval import Retriever, Tuning  # noqa: E402
from memory_runtime.retrieval.fusion import Candidate  # noqa: E402
from memory_runtime.retrieval.rerank import FEATURES, WEIGHTS_FILE, FeatureReranker, Query, features  # noqa: E402

SETS = {"hashing": "lexical", "local": "semantic"}
DEPTHS = [50, 100, 150]
L2 = 0.01


class Recorder(FeatureReranker):
    """Keeps the fused order; records the candidates' features and ids."""

    def __init__(self) -> None:
        super().__init__({})
        self.last: tuple[np.ndarray, list[Candidate]] | None = None

    def rerank(self, query: Query, cands: list[Candidate], reference: datetime) -> list[Candidate]:
        self.last = (features(query, cands, reference), list(cands))
        return cands


def collect(embedder: str, convs: list[dict], questions: list[dict], depth: int) -> list[dict]:
    """Per question: its features matrix, 0/1 gold labels per candidate, the evidence, its conversation."""
    rows = []
    with loaded_stores("fitrr", embedder, convs) as (stores, dia):
        for n, q in enumerate(questions, 1):
            recorder = Recorder()
            as_of = datetime.fromisoformat(q["as_of"]) if q.get("as_of") else None
            Retriever(stores, q["sample_id"], Tuning(rerank_depth=depth), reranker=recorder).remember(
                q["question"], top_k=10, time_window_hours=q.get("time_window_hours"), as_of=as_of
            )
            matrix, cands = recorder.last if recorder.last else (np.zeros((0, len(FEATURES))), [])
            ids = [dia[q["sample_id"]][c.item["conversation_id"], c.item["index"]] for c in cands]
            gold = set(q["evidence"])
            rows.append(
                {
                    "x": matrix,
                    "y": np.array([t in gold for t in ids], dtype=bool),
                    "ids": ids,
                    "evidence": q["evidence"],
                    "sample": q["sample_id"],
                }
            )
            if n % 100 == 0:
                print(f"\r  {embedder}: asked {n}/{len(questions)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows


def truncate(rows: list[dict], depth: int) -> list[dict]:
    """The rows as a reranker of the best `depth` fused candidates sees them."""
    return [{**r, "x": r["x"][:depth], "y": r["y"][:depth], "ids": r["ids"][:depth]} for r in rows]


def fit(rows: list[dict], steps: int = 600) -> np.ndarray:
    """Weights minimising the pairwise logistic loss (gold above non-gold, per question) plus L2."""
    diffs = [r["x"][r["y"]][:, None, :] - r["x"][~r["y"]][None, :, :] for r in rows if r["y"].any() and (~r["y"]).any()]
    pairs = np.concatenate([d.reshape(-1, len(FEATURES)) for d in diffs])
    w = np.zeros(len(FEATURES))
    w[FEATURES.index("fused")] = 1.0  # start from the fused order
    m = v = np.zeros_like(w)
    for t in range(1, steps + 1):
        margin = np.clip(pairs @ w, -30, 30)
        grad = -(pairs * (1 / (1 + np.exp(margin)))[:, None]).mean(axis=0) + 2 * L2 * w
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w = w - 0.05 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return w


def metrics(rows: list[dict], w: np.ndarray | None) -> dict[str, float]:
    """R@5, R@10 and NDCG@10 of the candidates ordered by w (None: the fused order)."""
    out = {"R@5": 0.0, "R@10": 0.0, "NDCG@10": 0.0}
    for r in rows:
        order = range(len(r["ids"])) if w is None else np.argsort(-(r["x"] @ w), kind="stable")
        ranked = [r["ids"][i] for i in order]
        out["R@5"] += recall(ranked, r["evidence"], 5)
        out["R@10"] += recall(ranked, r["evidence"], 10)
        out["NDCG@10"] += ndcg(ranked, r["evidence"], 10)
    return {k: v / len(rows) for k, v in out.items()}


def fmt(m: dict[str, float]) -> str:
    return " | ".join(f"{m[k]:.3f}" for k in ("R@5", "R@10", "NDCG@10"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedders", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--depths", type=int, nargs="+", default=DEPTHS, help="rerank depths to try")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    convs, questions = load(HERE / "data")
    samples = sorted({c["sample_id"] for c in convs})
    folds = [set(samples[0::2]), set(samples[1::2])]
    current = json.loads(WEIGHTS_FILE.read_text())
    sets, report = dict(current["sets"]), []
    for embedder in args.embedders:
        collected = collect(embedder, convs, questions, max(args.depths))
        held_out: dict[int, float] = {}
        for depth in sorted(args.depths):
            rows = truncate(collected, depth)
            pool = sum(recall(r["ids"], r["evidence"], len(r["ids"])) for r in rows) / len(rows)
            report += [
                f"### {embedder} ({SETS[embedder]} weights), the best {depth} fused candidates reranked",
                "",
                f"Gold evidence among them (the ceiling): {pool:.3f}.",
                "",
                "| rows | R@5 | R@10 | NDCG@10 |",
                "|---|---|---|---|",
            ]
            held_out[depth] = 0.0
            for i, held in enumerate(folds):
                train = [r for r in rows if r["sample"] not in held]
                test = [r for r in rows if r["sample"] in held]
                tested = metrics(test, fit(train))
                held_out[depth] += tested["R@10"] * len(test) / len(rows)
                report.append(f"| fold {i + 1} held out ({len(test)} questions), fused | {fmt(metrics(test, None))} |")
                report.append(f"| fold {i + 1} held out, fitted on the other fold | {fmt(tested)} |")
            report.append(f"| all {len(rows)} questions, fused order | {fmt(metrics(rows, None))} |")
            report.append(f"| all, reranked by weights fitted on all | {fmt(metrics(rows, fit(rows)))} |")
            report.append("")
            print("\n".join(report[-13:]))
        depth = max(held_out, key=lambda d: held_out[d])
        w = fit(truncate(collected, depth))
        shipped = {f: round(float(x), 4) for f, x in zip(FEATURES, w, strict=True) if abs(x) >= 1e-4}
        sets[SETS[embedder]] = {"depth": depth, "weights": shipped}
        report += [f"Shipped for {embedder}: depth {depth} (best held-out R@10, {held_out[depth]:.3f}).", ""]
        print(report[-2], json.dumps(shipped))
    if not args.no_write:
        WEIGHTS_FILE.write_text(
            json.dumps(
                {
                    "comment": "written by benchmarks/retrieval_eval/fit_reranker.py (see retrieval/rerank.py)",
                    "fitted": f"{datetime.now():%Y-%m-%d}",
                    "sets": sets,
                },
                indent=2,
            )
            + "\n"
        )
        (HERE.parent / "results" / "rerank_fit.md").write_text(
            "# Fitting the feature reranker\n\n"
            "Regenerate: `.venv/bin/python benchmarks/retrieval_eval/fit_reranker.py` (writes "
            "memory_runtime/retrieval/rerank_weights.json)\n\n"
            "Top-10 metrics over each question's reranked candidates (the best `depth` fused turns of a "
            "remember(top_k=10)), two-fold by conversation. Recall here is bounded by the candidates fusion found "
            "(the ceiling).\n\n" + "\n".join(report)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
