"""Re-embedding throughput: every stored vector recomputed after the embedder changed.

    .venv/bin/python benchmarks/bench_reembed.py [--turns 20000] [--facts 2000] [--entities 1000]

One user on a private embedded stack (384 dimensions). The memory is written by a stand-in for an older
embedder (the hashing embedder with its components rotated: same dimension, another vector space), then
`memory_runtime.batch.reembed.reembed` recomputes everything with the configured hashing embedder. Reports vectors
per second per kind, the index rebuild, a second run (nothing left to write) and whether a vector-only query
finds a turn by its own text before and after. Writes benchmarks/results/reembed.md.
"""

import argparse
import dataclasses
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_remember import learn, store_until, turn_stream  # noqa: E402
from harness import embedded_stores, progress, write_results  # noqa: E402

from memory_runtime.api import AgentMemory  # noqa: E402
from memory_runtime.batch import reembed  # noqa: E402
from memory_runtime.embeddings.hashing import HashingEmbedder  # noqa: E402
from memory_runtime.stores.bundle import Stores  # noqa: E402
from memory_runtime.stores.postgres.settings import MODEL, write_settings  # noqa: E402
from memory_runtime.stores.redis.embedding_cache import CachedEmbedder  # noqa: E402

RESULTS = HERE / "results" / "reembed.md"
USER = "bench-user"
PROBES = 50


class OlderEmbedder(HashingEmbedder):
    """What wrote the store: hashing vectors with their components rotated (same dimension)."""

    VERSION = "older"

    def embed(self, texts):
        return [np.roll(np.asarray(v), 7).tolist() for v in super().embed(texts)]


def self_hits(stores: Stores, texts: list[str]) -> int:
    """How many turns the Turn vector index returns first for their own text (current embedder)."""
    raw = "CALL db.idx.vector.queryNodes('Turn', 'embedding', 1, vecf32($v)) YIELD node RETURN node.content AS c"
    vectors = stores.embedder.embed(texts)
    return sum(stores.graph.read(raw, {"v": v})[0]["c"] == t for t, v in zip(texts, vectors, strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20_000)
    parser.add_argument("--facts", type=int, default=2_000)
    parser.add_argument("--entities", type=int, default=1_000)
    parser.add_argument("--batch-size", type=int, default=reembed.DEFAULT_BATCH_SIZE)
    args = parser.parse_args()
    began, load_before = time.perf_counter(), os.getloadavg()
    with embedded_stores("bench-reembed-") as stores:
        old = OlderEmbedder(stores.embedder.dimensions)
        written_by_old = dataclasses.replace(stores, embedder=CachedEmbedder(old, None, 0))
        write_settings(stores.pg, {MODEL: old.model_id})  # as if the older embedder had migrated the store
        with AgentMemory(USER, stores=written_by_old) as memory:
            store_until(memory, turn_stream(11), 0, args.turns)
            learn(memory, args.facts, args.entities, random.Random(11))
        sample = [r["content"] for r in stores.pg.fetch(
            "SELECT content FROM conversation_logs ORDER BY random() LIMIT %s", (PROBES,))]  # fmt: skip
        before = self_hits(stores, sample)
        planned = reembed.plan(stores)
        started, done = time.perf_counter(), [0]

        def tick(kind: str, n: int) -> None:
            done[0] += n
            progress(f"re-embedding ({kind})", done[0], planned.total, started)

        first = reembed.reembed(stores, batch_size=args.batch_size, progress=tick)
        print(file=sys.stderr)
        after = self_hits(stores, sample)
        write_settings(stores.pg, {MODEL: old.model_id})  # force a second full pass: every vector is current
        again = reembed.reembed(stores, batch_size=args.batch_size)
    command = (
        f".venv/bin/python benchmarks/bench_reembed.py --turns {args.turns} --facts {args.facts} "
        f"--entities {args.entities}"
    )
    description = (
        "One user on the embedded stack (PostgreSQL + FalkorDB/Redis), 384 dimensions, 2-core machine. The memory "
        "was written by another embedder of the same dimension; `agent-memory reembed` (batches of "
        f"{args.batch_size}) recomputes every vector with the hashing embedder. A turn's vector lives in "
        "PostgreSQL and on its graph node, so a turn is two writes."
    )
    lines = ["| kind | vectors | rewritten | vectors/s (whole run) |", "|---|---|---|---|"]
    lines += [f"| {k.kind} | {k.scanned:,} | {k.rewritten:,} | |" for k in first.kinds]
    rate = first.scanned / first.seconds if first.seconds else 0.0
    lines += [
        f"| all | {first.scanned:,} | {sum(k.rewritten for k in first.kinds):,} | {rate:,.0f} |",
        "",
        f"- Embedding and writing: {first.seconds:.1f} s; rebuilding the vector indexes of "
        f"{', '.join(first.rebuilt) or 'none'}: {first.rebuild_seconds:.1f} s.",
        f"- A second full pass over current vectors writes {sum(k.rewritten for k in again.kinds)} and takes "
        f"{again.seconds:.1f} s (reading and comparing only).",
        f"- Vector-only self-retrieval ({PROBES} random turns queried by their own text, top 1): {before}/{PROBES} "
        f"before, {after}/{PROBES} after.",
    ]
    body = "\n".join(lines)
    print(body)
    write_results(RESULTS, "Re-embedding throughput", command, description, began, load_before, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
