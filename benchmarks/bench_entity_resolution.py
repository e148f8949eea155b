"""Entity resolution by alias as a user's entities grow: the statement `upsert_entity` resolves with.

    .venv/bin/python benchmarks/bench_entity_resolution.py [--entities 20000] [--lookups 300]
        [--graph falkordb|neo4j|both]

On a private embedded stack, one user gets --entities Person entities (two aliases each, written in bulk, their
alias nodes by `migrate`'s backfill), then --lookups resolutions by an alias are timed, three ways in the same
run: a no-op round trip (the floor), the statement of `semantic.resolve_entity` (alias nodes under a unique
index), and the statement it replaced (`$norm_name IN c.norm_aliases` over the user's entities, which a Neo4j
index cannot serve). Writes benchmarks/results/entity_resolution.md (`--graph both`: entity_resolution_graphs.md).
"""

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from harness import add_graph_argument, embedded_stores, graph_flag, pct, results_path, side_by_side

from memory_runtime.domain.ids import alias_id
from memory_runtime.stores.graph.base import GraphStore
from memory_runtime.stores.graph.queries import semantic as q
from memory_runtime.stores.migrations import backfill_graph

RESULTS = Path(__file__).resolve().parent / "results" / "entity_resolution.md"
USER = "bench-user"
# The resolution statement before alias nodes (kept here to measure against, not used by the runtime).
LIST_SCAN = """
OPTIONAL MATCH (c:Entity)
 WHERE c.user_id = $user_id AND c.type = $type AND (c.id = $id OR $norm_name IN c.norm_aliases)
WITH c ORDER BY CASE WHEN c.id = $id THEN 0 ELSE 1 END, c.created_at LIMIT 1
WITH c WHERE c IS NOT NULL
RETURN c.id AS id
"""


def build(graph: GraphStore, n: int) -> None:
    """`n` entities of USER with two aliases each, and their alias nodes."""
    for start in range(0, n, 1000):
        rows = [
            {"id": f"e{i}", "name": f"entity {i}", "aliases": [f"alias {i} a", f"alias {i} b"]}
            for i in range(start, min(n, start + 1000))
        ]
        graph.write(
            "UNWIND $rows AS r CREATE (e:Entity {id: r.id, user_id: $user_id, type: 'Person', name: r.name, "
            "norm_name: r.name, norm_aliases: r.aliases, aliases: r.aliases, created_at: 1})",
            {"rows": rows, "user_id": USER},
        )
    backfill_graph(graph)


def timed(graph: GraphStore, statement: str, n: int, lookups: int, check: bool = True) -> list[float]:
    """Seconds per resolution of an alias of a spread of the entities (each answer checked)."""
    out = []
    for i in range(lookups):
        k = (i * 7919) % n
        norm = f"alias {k} b"
        params = {
            "user_id": USER,
            "type": "Person",
            "id": "no-such-id",
            "norm_name": norm,
            "alias_key": alias_id(USER, norm),
        }
        start = time.perf_counter()
        rows = graph.read(statement, params)
        out.append(time.perf_counter() - start)
        if check:
            assert rows and rows[0]["id"] == f"e{k}", rows
    return out


def run(backend: str, args: argparse.Namespace) -> list[tuple[str, str]]:
    """[(measure, value)] on one graph backend."""
    with embedded_stores("bench-resolution-", backend) as stores:
        graph = stores.graph
        print(f"[{backend}] {args.entities} entities ...", file=sys.stderr)
        build(graph, args.entities)
        statements = {
            "no-op round trip (floor)": ("RETURN 1 AS x", False),
            "alias nodes (resolve_entity)": (q.resolve_entity(graph.dialect), True),
            "before: alias list scan": (LIST_SCAN, True),
        }
        for statement, check in statements.values():  # warm-up (plans, caches)
            timed(graph, statement, args.entities, 20, check)
        lat = {name: timed(graph, s, args.entities, args.lookups, c) for name, (s, c) in statements.items()}
        server = graph.server_version()
    rows = [("graph server", server)]
    rows += [(f"{name} p50 / p95", f"{pct(x, 50) * 1000:.2f} / {pct(x, 95) * 1000:.2f} ms") for name, x in lat.items()]
    ratio = pct(lat["before: alias list scan"], 50) / pct(lat["alias nodes (resolve_entity)"], 50)
    rows.append(("before / after (p50)", f"{ratio:.1f}x"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--lookups", type=int, default=300)
    add_graph_argument(parser)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    runs = {backend: run(backend, args) for backend in args.graph}
    table = side_by_side("measure", runs)
    print(table)
    out = results_path(RESULTS, args.graph)
    out.write_text(
        "# Entity resolution by alias\n\n"
        f"Regenerate: `.venv/bin/python benchmarks/bench_entity_resolution.py --entities {args.entities} "
        f"--lookups {args.lookups}{graph_flag(args.graph)}`\n\n"
        f"One user with {args.entities:,} Person entities (two aliases each) on the embedded stack; {args.lookups} "
        "resolutions by an alias per statement, in the same run: a no-op round trip, the statement "
        "`upsert_entity` resolves with (`(:EntityAlias {id: user|digest(alias)})-[:ALIAS_OF]->(:Entity)` "
        "under a unique index), and the one it replaced (`$norm_name IN c.norm_aliases` over the user's "
        "entities). 2-core "
        f"machine shared with other jobs (load average {load:.2f} at the start); compare the rows of a column.\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d}.\n\n" + table + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
