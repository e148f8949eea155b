"""Backup and restore at 100k turns: time, size on disk per file, and a restore that answers exactly as the source.

    .venv/bin/python benchmarks/bench_backup.py [--turns 100000] [--users 10] [--queries 20]
        [--graph falkordb|neo4j|both] [--data-dir DIR]

The source store is benchmarks/dataset.py's (bench_remember's generated chat over --users users, plus 10% facts
and 5% entities: 10k facts and 5k entities at 100k turns); with --data-dir it is reused from (or left for) a
bench_scaling.py run with the same --data-dir. `write_backup` (what `agent-memory backup` runs) writes the backup;
then, on the source, remember(top_k=10) answers --queries questions for each of 3 users and every table, node
label and relationship is counted. The source stack is stopped, a new stack starts in an empty data directory,
`restore_backup` (what `agent-memory restore` runs: checks, PostgreSQL in one transaction, graph nodes and
relationships, re-projection of turns the export lacked, Redis) rebuilds it, and the same questions and counts
are compared: ids, found_by and scores of every section must be identical. Writes
benchmarks/results/backup.md (backup_neo4j.md, backup_graphs.md; backup_20k.md for --turns 20000).
"""

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "retrieval_eval"))

import dataset as ds  # noqa: E402
from harness import (  # noqa: E402
    GRAPH_NAMES,
    add_graph_argument,
    disk_usage,
    embedded_stores,
    eval_questions,
    graph_flag,
    results_path,
    write_results,
)

from memory_runtime.api import AgentMemory  # noqa: E402
from memory_runtime.batch.backup import write_backup  # noqa: E402
from memory_runtime.batch.restore import restore_backup  # noqa: E402
from memory_runtime.domain.vocabulary import NODE_LABELS  # noqa: E402
from memory_runtime.retrieval import lexical  # noqa: E402
from memory_runtime.stores.bundle import Stores  # noqa: E402
from memory_runtime.stores.postgres import backup as pg_backup  # noqa: E402

RESULTS = HERE / "results" / "backup.md"
MB = 1 << 20
NOTE = (
    "What can still differ: every strategy orders its hits by score and then id, and a user's nearest turns come from"
    " an exact scan up to memory_runtime.retrieval.episodic.EXACT_SCAN_MAX_TURNS turns, so ties and turn vectors no"
    " longer depend on the order indexes were built in. Past that size, and for facts and entities at any size, the"
    " vector search goes through the graph's HNSW index, which is approximate: the restored index, built in another"
    " order (and without the orphaned vectors FalkorDB leaves behind on updates), can return another neighbour at the"
    " tail, which shifts the min-max scaled vector scores of that section."
)


class Phases:
    """A backup/restore Progress: a stderr progress line per step, and how long each step took."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.seconds: dict[str, float] = {}
        self._step: tuple[str, int, str, float] | None = None
        self._done = 0

    def step(self, name: str, total: int, unit: str) -> None:
        self._close()
        self._step, self._done = (name, total, unit, time.perf_counter()), 0
        self._line()

    def advance(self, n: int) -> None:
        self._done += n
        if n and self._step and (self._done % 5000 < n or self._done >= self._step[1]):
            self._line()

    def finish(self) -> dict[str, float]:
        """Close the last step; the seconds per step."""
        self._close()
        return self.seconds

    def _line(self) -> None:
        assert self._step is not None
        name, total, unit, _ = self._step
        print(f"\r  {self.what} {name}: {self._done:,}/{total:,} {unit}   ", end="", file=sys.stderr, flush=True)

    def _close(self) -> None:
        if self._step is not None:
            name, _, _, began = self._step
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began
            print(file=sys.stderr)
            self._step = None


def counts(stores: Stores) -> dict[str, int]:
    """Rows per memory table, nodes per label and relationships: what must be equal after a restore."""
    with stores.pg.connection() as conn:
        out = {
            f"postgres.{t.name}": pg_backup.row_count(conn, t.name) for t in pg_backup.tables(conn, stores.pg.schema)
        }
    for lbl in NODE_LABELS:
        out[f"graph.{lbl}"] = int(stores.graph.read(f"MATCH (n:{lbl}) RETURN count(n) AS n")[0]["n"])
    out["graph.relationships"] = int(stores.graph.read("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"])
    return out


def recall(stores: Stores, users: list[str], queries: list[str]) -> dict[str, Any]:
    """remember(top_k=10) of every query for every user: ids, found_by and scores (rounded) per section.

    The users' cached BM25 statistics are dropped first: the source's were cached while turns were still being
    stored (they are refreshed every 10 minutes), the restored store has none (caches are not backed up), and both
    should rank by statistics counted from the same turns."""
    out: dict[str, Any] = {}
    for user in users:
        lexical.forget_statistics(stores, user)
        with AgentMemory(user, stores=stores) as memory:
            for q in queries:
                b = memory.remember(q, top_k=10)
                out[f"{user}: {q}"] = {
                    "turns": [(h.id, tuple(h.found_by), round(h.score, 4)) for h in b.relevant_turns],
                    "facts": [(h.id, tuple(h.found_by), round(h.score, 4)) for h in b.facts],
                    "entities": [(h.id, tuple(h.found_by), round(h.score, 4)) for h in b.entities],
                    "goals": [g.id for g in b.active_goals],
                }
    return out


def run(graph: str, args: argparse.Namespace, root: Path, queries: list[str]) -> dict[str, Any]:
    """Build (or reuse) the source, back it up, recall; restore into a new stack, recall again; the measures."""
    data_dir = root / graph
    data_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        target_dir = Path(tmp) / "backup"
        with embedded_stores("bench-backup-", graph, data_dir=data_dir) as stores:
            data = ds.load(data_dir, ds.Dataset(users=args.users, seed=args.seed))
            data = ds.grow(stores, data_dir, data, args.turns, f"[{graph}] ")
            out["dataset"] = dict(vars(data))
            users = data.user_ids()[:3]
            out["source on disk"] = {
                "PostgreSQL data directory": disk_usage(data_dir / "stack" / "pg"),
                "Redis/FalkorDB directory (RDB + AOF)": disk_usage(data_dir / "stack" / "redis"),
                **({"Neo4j data directory": disk_usage(data_dir / "neo4j")} if graph == "neo4j" else {}),
            }
            print(f"[{graph}] backup ...", file=sys.stderr)
            phases = Phases("backup")
            t = time.perf_counter()
            manifest = write_backup(stores, target_dir, phases)
            out["backup s"] = time.perf_counter() - t
            out["backup phases"] = phases.finish()
            before = counts(stores)
            print(f"[{graph}] recall on the source ({len(users)} users x {len(queries)} queries) ...", file=sys.stderr)
            recalled = recall(stores, users, queries)
        out["manifest"] = manifest
        out["files"] = {name: e.bytes for name, e in manifest.files.items()}
        out["files"]["manifest.json"] = (target_dir / "manifest.json").stat().st_size
        with embedded_stores("bench-restore-", graph) as target:
            print(f"[{graph}] restore into an empty data directory ...", file=sys.stderr)
            phases = Phases("restore")
            t = time.perf_counter()
            report = restore_backup(target, target_dir, progress=phases)
            out["restore s"] = time.perf_counter() - t
            out["restore phases"] = phases.finish()
            out["reprojected"] = report.reprojected
            after = counts(target)
            print(f"[{graph}] recall on the restored store ...", file=sys.stderr)
            restored = recall(target, users, queries)
    out["counts"] = before
    out["count mismatches"] = {
        k: (before.get(k), after.get(k)) for k in before | after if before.get(k) != after.get(k)
    }
    out["recall calls"] = len(recalled)
    out["recall mismatches"] = sorted(k for k in recalled if recalled[k] != restored.get(k))
    out["differing sections"] = {
        section: sum(recalled[k][section] != restored.get(k, {}).get(section) for k in recalled)
        for section in ("turns", "facts", "entities", "goals")
    }
    out["same items"] = sum(_items(recalled[k]) == _items(restored.get(k, {})) for k in recalled)
    out["overlap"] = _overlap(recalled, restored)
    return out


def _items(bundle: dict[str, Any]) -> dict[str, set[Any]]:
    """The ids of each section, ignoring order, scores and found_by."""
    return {section: {h[0] if isinstance(h, tuple) else h for h in hits} for section, hits in bundle.items()}


def _overlap(recalled: dict[str, Any], restored: dict[str, Any]) -> dict[str, float]:
    """Per section: the share of the source's items that the restored store's answer to the same call holds."""
    shares: dict[str, list[float]] = {}
    for key, bundle in recalled.items():
        mine, theirs = _items(bundle), _items(restored.get(key, {}))
        for section, hits in mine.items():
            if hits:
                shares.setdefault(section, []).append(len(hits & theirs.get(section, set())) / len(hits))
    return {section: sum(v) / len(v) for section, v in shares.items()}


def _b(n: float) -> str:
    return f"{n / MB:,.1f} MiB" if n >= MB else f"{n / 1024:,.1f} KiB"


def report(graph: str, r: dict[str, Any]) -> str:
    """The markdown section of one graph's run."""
    d, m = r["dataset"], r["manifest"]
    total = sum(r["files"].values())
    lines = [
        f"## {GRAPH_NAMES[graph]}",
        "",
        f"Source: {d['turns']:,} turns, {d['facts']:,} facts, {d['entities']:,} entities over {d['users']} users; "
        f"{sum(m.graph.nodes.values()):,} graph nodes, {m.graph.relationships:,} relationships, "
        f"{m.redis.keys:,} Redis keys.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| backup (`write_backup`) | {r['backup s']:.1f} s |",
        *(f"| &nbsp;&nbsp;{k} | {v:.1f} s |" for k, v in r["backup phases"].items()),
        f"| backup size | {_b(total)} ({total / d['turns']:,.0f} bytes per turn) |",
        f"| restore into an empty data directory (`restore_backup`) | {r['restore s']:.1f} s |",
        *(f"| &nbsp;&nbsp;{k} | {v:.1f} s |" for k, v in r["restore phases"].items()),
        f"| turns re-projected on restore (not in the graph export) | {r['reprojected']:,} |",
        f"| counts identical after restore ({len(r['counts'])} tables, labels, relationships) | "
        + ("yes" if not r["count mismatches"] else f"**no**: {r['count mismatches']}")
        + " |",
        f"| remember() identical after restore (ids, found_by, scores; {r['recall calls']} calls) | "
        + ("yes" if not r["recall mismatches"] else f"**no**: {len(r['recall mismatches'])} differ")
        + " |",
        "| calls differing, per section | "
        + ", ".join(f"{section} {n}" for section, n in r["differing sections"].items())
        + " |",
        f"| remember() calls returning the same items in every section (in any order) | "
        f"{r['same items']} of {r['recall calls']} |",
        "| share of the source's items the restored answer holds, per section | "
        + ", ".join(f"{section} {share:.1%}" for section, share in r["overlap"].items())
        + " |",
        "",
        "Files of the backup (compressed, gzip level 1):",
        "",
        "| file | bytes | share |",
        "|---|---|---|",
    ]
    for name, size in sorted(r["files"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {_b(size)} | {size / total:.1%} |")
    lines += ["", "The source store on disk, for comparison:", "", "| directory | bytes |", "|---|---|"]
    lines += [f"| {k} | {_b(v)} |" for k, v in r["source on disk"].items()]
    if r["recall mismatches"]:
        lines += ["", NOTE]
    lines += ["", "Counts in the backup: " + ", ".join(f"{k} {v:,}" for k, v in r["counts"].items() if v) + "."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse (or keep) the source store here")
    add_graph_argument(parser)
    args = parser.parse_args()
    queries = eval_questions(random.Random(args.seed), args.queries)
    began, load_before = time.perf_counter(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-backup-src-") as tmp:
        root = args.data_dir.resolve() if args.data_dir else Path(tmp)
        results = {graph: run(graph, args, root, queries) for graph in args.graph}
    command = (
        f".venv/bin/python benchmarks/bench_backup.py --turns {args.turns} --users {args.users} "
        f"--queries {args.queries}{graph_flag(args.graph)} [--data-dir DIR]"
    )
    description = (
        "Embedded stores on a shared 2-core machine, hashing embedder (384 dimensions). What is measured is in the "
        "docstring of benchmarks/bench_backup.py; the format is in memory_runtime/batch/backup_format.py. The "
        "restore runs into a new, empty data directory (a fresh embedded stack) after the source stack stopped."
    )
    body = "\n\n".join(report(g, r) for g, r in results.items())
    print(body)
    # the 100k-turn run is backup.md; another size goes beside it (backup_20k.md)
    name = RESULTS if args.turns == 100_000 else RESULTS.with_name(f"backup_{args.turns // 1000}k.md")
    write_results(results_path(name, args.graph), "Backup and restore", command, description, began, load_before, body)
    failed = any(r["count mismatches"] or r["recall mismatches"] for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
