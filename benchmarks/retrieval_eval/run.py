"""Turn-level retrieval evaluation: full-text, vector, fused remember() and a plain BM25 reference.

    .venv/bin/python benchmarks/retrieval_eval/run.py [--top-k 10 25] [--set neighbour_hits=4 ...]
        [--graph falkordb|neo4j|both]

Starts a private embedded stack, loads data/conversations.jsonl into a fresh namespace — each
conversation is its own user, each session its own conversation id, each turn stored as
"Speaker: text" with its original timestamp — then asks every question of data/questions.jsonl as that
user and scores the returned turns against the gold evidence turn ids:

- fulltext: Retriever.search_turns(mode="fulltext");
- vector:   Retriever.search_turns(mode="vector");
- fused:    AgentMemory.remember(...).relevant_turns (everything remember() does);
- bm25:     Okapi BM25 (k1=1.2, b=0.75) over the user's turns in Python, tokenised with
            memory_runtime.domain.text.content_terms — the external-style reference.

Questions with `time_window_hours` / `as_of` pass them to every strategy (BM25 filters its corpus the same
way). Recall@5, Recall@10 and NDCG@10 come from top_k=10 calls, Recall@25 from top_k=25 calls. `--set`
overrides Tuning fields for a sweep (fused then runs through Retriever directly with that tuning).
`--graph both` evaluates on FalkorDB, then on a private local Neo4j, and also reports how far the two agree
(identical top-k lists, shared items, normalised score differences). Writes benchmarks/results/retrieval_eval.md
(retrieval_eval_neo4j.md / retrieval_eval_graphs.md for the other graphs) unless --no-write.
"""

import argparse
import json
import math
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/harness.py
from harness import GRAPH_NAMES, add_graph_argument, embedded_stores, graph_flag, results_path  # noqa: E402

from memory_runtime.api import AgentMemory
from memory_runtime.domain.models import Turn
from memory_runtime.domain.text import content_terms
from memory_runtime.retrieval import Retriever, Tuning
from memory_runtime.stores.bundle import Stores

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results" / "retrieval_eval.md"
CATEGORIES = ["single-hop", "multi-hop", "temporal", "preference", "adversarial"]
STRATEGIES = ["bm25", "fulltext", "vector", "fused"]


class BM25:
    """Okapi BM25 over one user's turns (the Lucene idf, which never goes negative)."""

    def __init__(self, docs: list[list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.tfs = [Counter(d) for d in docs]
        self.lens = [len(d) for d in docs]
        self.avgdl = sum(self.lens) / max(len(docs), 1)
        df = Counter(t for d in docs for t in set(d))
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def rank(self, query: list[str], allowed: list[bool]) -> list[int]:
        """Document positions by descending score (only `allowed` ones with a positive score)."""
        scores = []
        for i, tf in enumerate(self.tfs):
            if not allowed[i]:
                continue
            norm = self.k1 * (1 - self.b + self.b * self.lens[i] / self.avgdl)
            s = sum(self.idf.get(t, 0.0) * tf[t] * (self.k1 + 1) / (tf[t] + norm) for t in query if t in tf)
            if s > 0:
                scores.append((s, i))
        return [i for _, i in sorted(scores, key=lambda x: (-x[0], x[1]))]


def recall(ranked: list[str], gold: list[str], k: int) -> float:
    return len(set(ranked[:k]) & set(gold)) / len(gold)


def ndcg(ranked: list[str], gold: list[str], k: int = 10) -> float:
    g = set(gold)
    dcg = sum(1 / math.log2(i + 2) for i, t in enumerate(ranked[:k]) if t in g)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(g), k)))
    return dcg / ideal


def load(data: Path) -> tuple[list[dict], list[dict]]:
    convs = [json.loads(line) for line in (data / "conversations.jsonl").open()]
    questions = [json.loads(line) for line in (data / "questions.jsonl").open()]
    return convs, questions


def turns_of(conv: dict, speaker_prefix: bool = True) -> list[Turn]:
    """The conversation as Turns: one conversation id per session, content prefixed by the speaker (or, with
    speaker_prefix=False, the bare text, the speaker only in metadata)."""
    out = []
    for s in conv["sessions"]:
        cid = f"{conv['sample_id']}-s{s['session']:02d}"
        for t in s["turns"]:
            out.append(
                Turn(
                    conversation_id=cid,
                    index=t["index"],
                    role=t["role"],
                    content=f"{t['speaker']}: {t['text']}" if speaker_prefix else t["text"],
                    timestamp=datetime.fromisoformat(t["timestamp"]),
                    metadata={"speaker": t["speaker"], "dia_id": t["turn_id"], "session_time": s["date_time"]},
                )
            )
    return out


def parse_overrides(pairs: list[str]) -> Tuning:
    kinds = {f.name: f.type for f in fields(Tuning)}
    values = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        if key not in kinds:
            raise SystemExit(f"unknown Tuning field {key!r}; known: {', '.join(kinds)}")
        values[key] = (int if "int" in str(kinds[key]) else float)(raw)
    return replace(Tuning(), **values)


Corpus = dict[str, tuple[BM25, list[str], list[datetime]]]


def load_users(
    stores: Stores, convs: list[dict], speaker_prefix: bool = True
) -> tuple[dict[str, dict[tuple[str, int], str]], Corpus]:
    """Stores every conversation as its own user; returns per user the dataset turn id of each (conversation id,
    index) and the BM25 reference corpus."""
    dia: dict[str, dict[tuple[str, int], str]] = {}
    corpus: Corpus = {}
    started = time.perf_counter()
    n_turns = 0
    for conv in convs:
        user = conv["sample_id"]
        turns = turns_of(conv, speaker_prefix)
        with AgentMemory(user, stores=stores) as memory:
            for b in range(0, len(turns), 500):
                memory.store_turns(turns[b : b + 500])
        n_turns += len(turns)
        rate = n_turns / (time.perf_counter() - started)
        print(f"\r  loaded {n_turns} turns ({rate:.0f} turns/s)", end="", file=sys.stderr, flush=True)
        dia[user] = {(t.conversation_id, t.index): t.metadata["dia_id"] for t in turns}
        corpus[user] = (
            BM25([content_terms(t.content) for t in turns]),
            [t.metadata["dia_id"] for t in turns],
            [t.timestamp for t in turns],
        )
    print(file=sys.stderr)
    return dia, corpus


@contextmanager
def loaded_stores(name: str, embedder: str, convs: list[dict]) -> Iterator[tuple[Stores, dict]]:
    """A private embedded stack with the `embedder` configured, namespaced `name`, holding every conversation;
    yields the stores and load_users' dataset turn ids."""
    with embedded_stores(
        f"{name}-", postgres_schema=name, graph_name=name, redis_prefix=name, embedding_provider=embedder
    ) as stores:
        yield stores, load_users(stores, convs)[0]


def evaluate(
    stores: Stores,
    convs: list[dict],
    questions: list[dict],
    ks: list[int],
    tuning: Tuning | None,
    only: set[str],
    speaker_prefix: bool = True,
) -> tuple[dict, dict]:
    """Ranked dataset turn ids per (strategy, k, qid), plus timing per strategy."""
    dia, corpus = load_users(stores, convs, speaker_prefix)
    ranked: dict[tuple[str, int, str], list[str]] = {}
    scores: dict[tuple[str, int, str], list[float]] = {}
    spent: dict[str, float] = defaultdict(float)
    for n, q in enumerate(questions, 1):
        user = q["sample_id"]
        as_of = datetime.fromisoformat(q["as_of"]) if q.get("as_of") else None
        hours = q.get("time_window_hours")
        retriever = Retriever(stores, user, tuning)
        for k in ks:
            t0 = time.perf_counter()
            if "bm25" in only:
                bm25, ids, stamps = corpus[user]
                since = as_of.timestamp() - hours * 3600 if (as_of and hours) else None
                allowed = [(as_of is None or s <= as_of) and (since is None or s.timestamp() >= since) for s in stamps]
                ranked["bm25", k, q["qid"]] = [ids[i] for i in bm25.rank(content_terms(q["question"]), allowed)[:k]]
            t1 = time.perf_counter()
            spent["bm25"] += t1 - t0
            for mode in ("fulltext", "vector"):
                if mode not in only:
                    continue
                t = time.perf_counter()
                rows = retriever.search_turns(q["question"], top_k=k, mode=mode, time_window_hours=hours, as_of=as_of)
                spent[mode] += time.perf_counter() - t
                ranked[mode, k, q["qid"]] = [dia[user][r["conversation_id"], r["index"]] for r in rows]
                scores[mode, k, q["qid"]] = [float(r["score"]) for r in rows]
            if "fused" in only:
                t = time.perf_counter()
                if tuning is None:
                    with AgentMemory(user, stores=stores) as memory:
                        rows = memory.remember(
                            q["question"], top_k=k, time_window_hours=hours, as_of=as_of
                        ).relevant_turns
                else:
                    rows = retriever.remember(
                        q["question"], top_k=k, time_window_hours=hours, as_of=as_of
                    ).relevant_turns
                spent["fused"] += time.perf_counter() - t
                ranked["fused", k, q["qid"]] = [dia[user][r["conversation_id"], r["index"]] for r in rows]
                scores["fused", k, q["qid"]] = [float(r["score"]) for r in rows]
        if n % 50 == 0 or n == len(questions):
            print(f"\r  asked {n}/{len(questions)} questions", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return ranked, scores, spent


@dataclass
class Run:
    """One graph's evaluation: ranked dataset turn ids and their scores per (strategy, k, qid), timings."""

    ranked: dict
    scores: dict
    spent: dict
    model_id: str


def agreement(a: Run, b: Run, questions: list[dict], k: int, strategies: list[str]) -> str:
    """How far two graphs' runs agree, per strategy at top-k: identical ranked lists, shared items, and the
    largest difference of the scores of a shared item after normalising each list by its top score."""
    lines = [
        f"| strategy | identical top-{k} lists | mean shared items (of {k}) | max score diff (normalised) |",
        "|---|---|---|---|",
    ]
    for s in strategies:
        same = shared = 0
        diff = 0.0
        scored = s in {key[0] for key in a.scores}
        for q in questions:
            key = (s, k, q["qid"])
            ra, rb = a.ranked[key], b.ranked[key]
            same += ra == rb
            shared += len(set(ra) & set(rb))
            if scored and a.scores[key] and b.scores[key]:
                na = {t: v / (a.scores[key][0] or 1.0) for t, v in zip(ra, a.scores[key], strict=True)}
                nb = {t: v / (b.scores[key][0] or 1.0) for t, v in zip(rb, b.scores[key], strict=True)}
                diff = max([diff] + [abs(na[t] - nb[t]) for t in na.keys() & nb.keys()])
        n = len(questions)
        lines.append(
            f"| {s} | {same}/{n} ({same / n:.1%}) | {shared / n:.2f} | " + (f"{diff:.4f} |" if scored else "— |")
        )
    return "\n".join(lines)


def score(ranked: dict, questions: list[dict], ks: list[int], strategies: list[str]) -> dict:
    """{strategy: {category|'overall': {metric: value}}}."""
    small, large = min(ks), max(ks)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for s in strategies:
        per: dict[str, list[dict[str, float]]] = defaultdict(list)
        for q in questions:
            a, b = ranked[s, small, q["qid"]], ranked[s, large, q["qid"]]
            m = {
                "R@5": recall(a, q["evidence"], 5),
                "R@10": recall(a, q["evidence"], 10),
                "R@25": recall(b, q["evidence"], 25),
                "NDCG@10": ndcg(a, q["evidence"], 10),
            }
            per[q["category"]].append(m)
            per["overall"].append(m)
        out[s] = {cat: {key: sum(m[key] for m in ms) / len(ms) for key in ms[0]} for cat, ms in per.items()}
    return out


def tables(result: dict, questions: list[dict], strategies: list[str]) -> str:
    counts = Counter(q["category"] for q in questions)
    cats = [c for c in CATEGORIES if c in counts]
    lines = ["Overall (all questions):", "", "| strategy | R@5 | R@10 | R@25 | NDCG@10 |", "|---|---|---|---|---|"]
    for s in strategies:
        o = result[s]["overall"]
        lines.append(f"| {s} | {o['R@5']:.3f} | {o['R@10']:.3f} | {o['R@25']:.3f} | {o['NDCG@10']:.3f} |")
    for metric in ("R@10", "NDCG@10", "R@5", "R@25"):
        lines += [
            "",
            f"{metric} per category:",
            "",
            "| strategy | " + " | ".join(f"{c} ({counts[c]})" for c in cats) + " | overall |",
            "|---" * (len(cats) + 2) + "|",
        ]
        for s in strategies:
            vals = " | ".join(f"{result[s][c][metric]:.3f}" for c in cats)
            lines.append(f"| {s} | {vals} | {result[s]['overall'][metric]:.3f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--top-k", type=int, nargs=2, default=[10, 25])
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="Tuning overrides")
    parser.add_argument("--only", nargs="*", default=STRATEGIES, choices=STRATEGIES)
    parser.add_argument("--conversations", type=int, default=None, help="evaluate only the first N")
    parser.add_argument("--dump", type=Path, default=None, help="write per-question rankings (JSONL) here")
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    parser.add_argument(
        "--bare-text", action="store_true", help="store turns without the 'Speaker: ' prefix (speaker in metadata)"
    )
    add_graph_argument(parser)
    args = parser.parse_args()
    convs, questions = load(args.data)
    if args.conversations:
        convs = convs[: args.conversations]
        keep = {c["sample_id"] for c in convs}
        questions = [q for q in questions if q["sample_id"] in keep]
    tuning = parse_overrides(args.set) if args.set else None
    strategies = [s for s in STRATEGIES if s in args.only]
    runs: dict[str, Run] = {}
    for graph in args.graph:
        with embedded_stores(
            "retrieval-eval-", graph, postgres_schema="reteval", graph_name="reteval", redis_prefix="reteval"
        ) as stores:
            ranked, scores, spent = evaluate(
                stores, convs, questions, args.top_k, tuning, set(strategies), not args.bare_text
            )
            runs[graph] = Run(ranked, scores, spent, stores.embedder.model_id)
    sections = []
    for graph, run in runs.items():
        text = tables(score(run.ranked, questions, args.top_k, strategies), questions, strategies)
        per_q = {s: f"{run.spent[s] / (len(questions) * 2) * 1000:.1f} ms" for s in strategies}
        print(f"{GRAPH_NAMES[graph]}:\n" if len(runs) > 1 else "", end="")
        print(text)
        print(f"\nmean time per call: {per_q}")
        heading = f"## {GRAPH_NAMES[graph]}\n\n" if len(runs) > 1 else ""
        sections.append(heading + text + f"\n\nMean time per call: {per_q}\n")
    compared = ""
    if len(runs) > 1:
        first, second = (runs[g] for g in args.graph)
        compared = (
            f"## Do the graphs agree? ({' vs '.join(GRAPH_NAMES[g] for g in runs)}, top-{args.top_k[0]})\n\n"
            + agreement(first, second, questions, args.top_k[0], [s for s in strategies if s != "bm25"])
            + "\n\n"
        )
        print("\n" + compared)
    if args.dump:
        ranked = runs[args.graph[0]].ranked
        with args.dump.open("w") as f:
            for q in questions:
                f.write(json.dumps({**q, **{s: ranked[s, args.top_k[0], q["qid"]] for s in strategies}}) + "\n")
    if not args.no_write and not args.set and not args.conversations and not args.bare_text:
        n_turns = sum(len(s["turns"]) for c in convs for s in c["sessions"])
        model_id = runs[args.graph[0]].model_id
        out = results_path(RESULTS, args.graph)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            "# Turn-level retrieval evaluation\n\n"
            "Regenerate: `.venv/bin/python benchmarks/retrieval_eval/generate.py && "
            f".venv/bin/python benchmarks/retrieval_eval/run.py{graph_flag(args.graph)}`\n\n"
            f"Data: {len(convs)} generated conversations (benchmarks/retrieval_eval/data, seed 2024), {n_turns} turns, "
            f"{len(questions)} questions with turn-level evidence. Embedder `{model_id}`, no LLM, embedded stack "
            f"(PostgreSQL + {' / '.join(GRAPH_NAMES[g] for g in runs)}). Each conversation is its own user. "
            f"Measured {datetime.now():%Y-%m-%d}.\n\n"
            "Strategies: `bm25` = plain Okapi BM25 in Python (k1=1.2, b=0.75, content_terms tokens; the "
            "reference), `fulltext` / `vector` = `Retriever.search_turns(mode=...)`, `fused` = "
            "`AgentMemory.remember(...).relevant_turns`.\n\n" + compared + "\n".join(sections)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
