"""Per-unit storage and batch costs at growing sizes: the measurements docs/scaling.md extrapolates from.

    .venv/bin/python benchmarks/bench_scaling.py [--turns 10000 50000 100000] [--users 10]
        [--hnsw-vectors 10000 40000] [--graph falkordb|neo4j|both] [--data-dir DIR] [--no-dagster]

One embedded stack per graph (PostgreSQL + FalkorDB or Neo4j + Redis, hashing embedder, 384 dimensions) grows
through the sizes of --turns (benchmarks/dataset.py: bench_remember's generated chat over --users users, plus
10% facts and 5% entities). At every size it measures:

* PostgreSQL: every table's heap, TOAST and each index (`pg_relation_size`), and bytes per turn;
* the graph: FalkorDB's `GRAPH.MEMORY USAGE` breakdown and the server's `used_memory` over its empty baseline;
  Neo4j's store files, transaction logs and each index directory on disk (after a checkpoint);
* Redis working memory: `MEMORY USAGE` of every working-memory key, per conversation (session).

Once per graph: the memory (FalkorDB) or disk (Neo4j) an HNSW index costs per vector at 384 dimensions, on
separate scratch nodes holding only a vector (--hnsw-vectors sizes, random unit vectors, the project's own index
options); and, unless --no-dagster, one Dagster run of `consolidation_job` (episodic_graph, semantic_memory,
memory_timeline, spaCy rules, no LLM) for an empty day partition (the fixed cost of a run) and for the busiest
day of the data set (turns/s). With --data-dir the store is kept there (`<dir>/<graph>/`), so a second run, or
bench_backup.py, reuses it. Writes benchmarks/results/scaling.md (scaling_neo4j.md, scaling_graphs.md).
"""

import argparse
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "retrieval_eval"))
os.environ.setdefault("MEMORY_PARTITIONS_START_DATE", "2021-01-01")  # the data set's turns start in 2021

import dataset as ds  # noqa: E402
from harness import (  # noqa: E402
    GRAPH_NAMES,
    add_graph_argument,
    disk_usage,
    embedded_stores,
    graph_flag,
    results_path,
    write_results,
)

from memory_ops.stack.neo4j import EmbeddedNeo4j  # noqa: E402
from memory_runtime.domain.errors import GraphQueryError  # noqa: E402
from memory_runtime.stores.bundle import Stores  # noqa: E402

RESULTS = HERE / "results" / "scaling.md"
MB = 1 << 20


# ---- PostgreSQL ----------------------------------------------------------------------------------------


def pg_sizes(stores: Stores) -> dict[str, int]:
    """Bytes per relation of the memory schema: `<table>` (heap), `<table> TOAST`, `<table>.<index>`."""
    with stores.pg.connection() as conn:
        tables = conn.execute(
            """
            SELECT c.relname AS name, pg_relation_size(c.oid) AS heap, pg_indexes_size(c.oid) AS indexes,
                   pg_total_relation_size(c.oid) AS total
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = %s AND c.relkind = 'r'
            """,
            (stores.pg.schema,),
        ).fetchall()
        indexes = conn.execute(
            """
            SELECT t.relname AS table_name, i.relname AS index_name, am.amname AS method,
                   pg_relation_size(i.oid) AS bytes
              FROM pg_index x
              JOIN pg_class i ON i.oid = x.indexrelid
              JOIN pg_class t ON t.oid = x.indrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
              JOIN pg_am am ON am.oid = i.relam
             WHERE n.nspname = %s
            """,
            (stores.pg.schema,),
        ).fetchall()
    out: dict[str, int] = {}
    for t in tables:
        out[t["name"]] = int(t["heap"])
        out[f"{t['name']} TOAST"] = int(t["total"]) - int(t["heap"]) - int(t["indexes"])
    for i in indexes:
        out[f"{i['table_name']}.{i['index_name']} ({i['method']})"] = int(i["bytes"])
    return out


# ---- graph -----------------------------------------------------------------------------------------------


def _redis_used(stores: Stores) -> int:
    stores.redis.client.execute_command("MEMORY", "PURGE")
    return int(stores.redis.client.info("memory")["used_memory"])


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        return {_decode(k): _decode(v) for k, v in value.items()}
    return value


def falkordb_sizes(stores: Stores, baseline: int, wm_bytes: int) -> dict[str, int]:
    """GRAPH.MEMORY USAGE (MB, as the server reports it) and used_memory over the baseline, less working memory."""
    raw = _decode(stores.redis.client.execute_command("GRAPH.MEMORY", "USAGE", stores.graph.graph_name))
    usage = dict(zip(raw[::2], raw[1::2], strict=True)) if isinstance(raw, list) else raw
    out = {"used_memory over the empty server, less working memory": _redis_used(stores) - baseline - wm_bytes}
    for key, value in usage.items():
        if isinstance(value, dict):
            for sub, mb in value.items():
                if float(mb):
                    out[f"GRAPH.MEMORY {key}.{sub}"] = int(float(mb) * MB)
        else:
            out[f"GRAPH.MEMORY {key}"] = int(float(value) * MB)
    return out


def _neo4j_home(data_dir: Path) -> Path:
    return data_dir / "neo4j" / "db"


def _checkpoint(stores: Stores, data_dir: Path) -> None:
    """Flush Neo4j's store files: `db.checkpoint()` where the edition has it, else a restart of the local server
    (a clean shutdown checkpoints); the driver reconnects on its next query."""
    try:
        stores.graph.write("CALL db.checkpoint()")
    except GraphQueryError:
        server = EmbeddedNeo4j(data_dir / "neo4j")
        server.down()
        server.up()
        stores.graph.read("RETURN 1 AS ok")


def neo4j_sizes(stores: Stores, data_dir: Path) -> dict[str, int]:
    """Store files, transaction logs and each index directory of the Neo4j database, after a checkpoint."""
    _checkpoint(stores, data_dir)
    home = _neo4j_home(data_dir)
    db = next(home.glob("data/databases/neo4j"), None)
    if db is None:
        raise SystemExit(f"no Neo4j database under {home}")
    out: dict[str, int] = {"database directory (store files + indexes)": disk_usage(db)}
    out["transaction logs"] = disk_usage(home / "data" / "transactions" / "neo4j")
    names = {str(r["id"]): r["name"] for r in stores.graph.read("SHOW INDEXES YIELD id, name RETURN id, name")}
    per_kind: dict[str, int] = defaultdict(int)
    for provider in sorted((db / "schema" / "index").glob("*")):
        for index_dir in sorted(provider.iterdir()):
            size = disk_usage(index_dir)
            name = names.get(index_dir.name, index_dir.name)
            kind = "vector" if "vector" in provider.name else "fulltext" if "fulltext" in provider.name else "range"
            per_kind[kind] += size
            if kind != "range":
                out[f"index {name} ({provider.name})"] = size
    for kind, size in per_kind.items():
        out[f"all {kind} indexes"] = size
    return out


# ---- Redis working memory ----------------------------------------------------------------------------------


def working_memory(stores: Stores) -> dict[str, float]:
    """Bytes of the working-memory keys: per conversation (its parts) and the per-user registries."""
    client, prefix = stores.redis.client, stores.redis.prefix
    sessions: dict[str, int] = defaultdict(int)
    registries = registry_keys = turns_held = 0
    keys = list(client.scan_iter(match=f"{prefix}:wm:*", count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    sizes = pipe.execute()
    for key, size in zip(keys, sizes, strict=True):
        name = key.decode() if isinstance(key, bytes) else key
        parts = name[len(prefix) + 1 :].split(":")  # wm, user, conversation, part  |  wm, user, keys
        if len(parts) == 3:
            registries += int(size or 0)
            registry_keys += 1
        else:
            sessions[parts[2]] += int(size or 0)
            if parts[3] == "turns":
                turns_held += int(client.zcard(key) if client.type(key) in (b"zset", "zset") else client.llen(key))
    n = max(len(sessions), 1)
    return {
        "sessions": len(sessions),
        "bytes": sum(sessions.values()) + registries,
        "bytes per session": sum(sessions.values()) / n,
        "turns held per session": turns_held / n,
        "registry bytes per user": registries / max(registry_keys, 1),
    }


# ---- HNSW per vector ------------------------------------------------------------------------------------------


def _unit_vectors(n: int, dims: int, rng: random.Random) -> list[list[float]]:
    out = []
    for _ in range(n):
        v = [rng.gauss(0, 1) for _ in range(dims)]
        norm = sum(x * x for x in v) ** 0.5
        out.append([x / norm for x in v])
    return out


def hnsw_falkordb(stores: Stores, sizes: list[int], dims: int) -> list[dict[str, float]]:
    """used_memory per vector of scratch nodes holding only a vector, before and after their HNSW index."""
    db = stores.graph._db  # noqa: SLF001 - a scratch graph on the same server, beside the memory graph
    rows = []
    rng = random.Random(5)
    for n in sizes:
        g = db.select_graph("hnsw_probe")
        base = _redis_used(stores)
        for i in range(0, n, 1000):
            batch = [{"i": i + k, "v": v} for k, v in enumerate(_unit_vectors(min(1000, n - i), dims, rng))]
            g.query("UNWIND $rows AS r CREATE (:P {id: r.i, embedding: vecf32(r.v)})", {"rows": batch})
        stored = _redis_used(stores)
        t = time.perf_counter()
        g.query(
            f"CREATE VECTOR INDEX FOR (n:P) ON (n.embedding) "
            f"OPTIONS {{dimension: {dims}, similarityFunction: 'cosine', efRuntime: 100}}"
        )
        while any(r[1] != "OPERATIONAL" for r in g.query("CALL db.indexes() YIELD label, status").result_set):
            time.sleep(0.2)
        built = time.perf_counter() - t
        indexed = _redis_used(stores)
        raw = _decode(stores.redis.client.execute_command("GRAPH.MEMORY", "USAGE", "hnsw_probe"))
        usage = dict(zip(raw[::2], raw[1::2], strict=True)) if isinstance(raw, list) else raw
        g.delete()
        rows.append(
            {
                "vectors": n,
                "node + vector property bytes per vector": (stored - base) / n,
                "HNSW index bytes per vector": (indexed - stored) / n,
                "GRAPH.MEMORY indices bytes per vector": float(usage["indices_sz_mb"]) * MB / n,
                "index build s": built,
            }
        )
    return rows


def hnsw_neo4j(stores: Stores, data_dir: Path, sizes: list[int], dims: int) -> list[dict[str, float]]:
    """Disk per vector of scratch nodes holding only a vector, and of their vector index (project options)."""
    graph, rows, rng = stores.graph, [], random.Random(5)
    db = next(_neo4j_home(data_dir).glob("data/databases/neo4j"))
    for n in sizes:
        _checkpoint(stores, data_dir)
        base = disk_usage(db)
        for i in range(0, n, 1000):
            batch = [{"i": i + k, "v": v} for k, v in enumerate(_unit_vectors(min(1000, n - i), dims, rng))]
            graph.write("UNWIND $rows AS r CREATE (:HnswProbe {id: r.i, embedding: r.v})", {"rows": batch})
        _checkpoint(stores, data_dir)
        stored = disk_usage(db)
        t = time.perf_counter()
        graph.write(
            "CREATE VECTOR INDEX hnsw_probe IF NOT EXISTS FOR (n:HnswProbe) ON n.embedding OPTIONS {indexConfig: "
            f"{{`vector.dimensions`: {dims}, `vector.similarity_function`: 'cosine', "
            "`vector.quantization.enabled`: false}}"
        )
        graph.write("CALL db.awaitIndexes(600)")
        built = time.perf_counter() - t
        _checkpoint(stores, data_dir)
        index_id = str(graph.read("SHOW INDEXES YIELD id, name WHERE name = 'hnsw_probe' RETURN id")[0]["id"])
        index_bytes = sum(disk_usage(p) for p in (db / "schema" / "index").glob(f"*/{index_id}"))
        graph.write("DROP INDEX hnsw_probe")
        while graph.write("MATCH (n:HnswProbe) WITH n LIMIT 10000 DELETE n RETURN count(*) AS n")[0]["n"]:
            pass
        rows.append(
            {
                "vectors": n,
                "node + vector property bytes per vector": (stored - base) / n,
                "HNSW index bytes per vector": index_bytes / n,
                "index build s": built,
            }
        )
    return rows


# ---- Dagster: one consolidation run -----------------------------------------------------------------------------


def busiest_day(stores: Stores) -> tuple[str, int, int]:
    """The day partition with the most turns, its turns, and the number of days that have turns."""
    rows = stores.pg.fetch(
        "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS n "
        "FROM conversation_logs GROUP BY 1 ORDER BY 2 DESC"
    )
    return rows[0]["day"], int(rows[0]["n"]), len(rows)


def dagster_runs(stores: Stores, window_turns: int) -> dict[str, Any]:
    """Wall time of consolidation_job's assets for an empty day partition and for the busiest day, in-process."""
    import dagster as dg

    from memory_assets.consolidation import memory_timeline, semantic_memory
    from memory_assets.episodic import episodic_graph
    from memory_assets.partitions import daily_partitions, day_key
    from resources import MemoryStoreResource

    memory = MemoryStoreResource.from_settings(stores.settings)
    day, turns, days = busiest_day(stores)
    empty = day_key(daily_partitions.start)  # before the data set's first turn
    out: dict[str, Any] = {"busiest day": day, "turns that day": turns, "days with turns": days}
    with dg.instance_for_test() as instance:
        for label, key in (("empty partition", empty), ("busiest day", day)):
            print(f"  dagster: consolidation_job's assets for {key} ({label}) ...", file=sys.stderr)
            t = time.perf_counter()
            result = dg.materialize(
                [episodic_graph, semantic_memory, memory_timeline],
                resources={"memory": memory},
                instance=instance,
                partition_key=key,
            )
            out[f"run s, {label}"] = time.perf_counter() - t
            if not result.success:
                raise SystemExit(f"consolidation failed for {key}")
    out["turns/s, busiest day"] = turns / max(out["run s, busiest day"] - out["run s, empty partition"], 1e-9)
    out.update(consolidation_rate(stores, window_turns))
    return out


def consolidation_rate(stores: Stores, window_turns: int) -> dict[str, Any]:
    """consolidate_window (what semantic_memory runs) over the earliest `window_turns` turns: turns/s."""
    from memory_runtime.batch.consolidate import consolidate_window

    rows = stores.pg.fetch(
        "SELECT min(created_at) AS start, max(created_at) AS last, count(*) AS n FROM "
        "(SELECT created_at FROM conversation_logs ORDER BY created_at LIMIT %s) AS w",
        (window_turns,),
    )
    start, end, n = rows[0]["start"], rows[0]["last"] + timedelta(microseconds=1), int(rows[0]["n"])
    print(f"  consolidate_window over {n:,} turns ({start:%Y-%m-%d} .. {end:%Y-%m-%d}) ...", file=sys.stderr)
    t = time.perf_counter()
    consolidate_window(stores, start, end)
    seconds = time.perf_counter() - t
    return {"window turns": n, "window s": seconds, "window turns/s": n / seconds}


# ---- run ----------------------------------------------------------------------------------------------------------


def run(graph: str, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Grow the store through --turns and measure at each size; then HNSW and Dagster."""
    data_dir = root / graph
    data_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"sizes": {}}
    with embedded_stores("bench-scaling-", graph, data_dir=data_dir) as stores:
        baseline_file = data_dir / "empty_used_memory"
        if graph == "falkordb" and not baseline_file.exists():
            baseline_file.write_text(str(_redis_used(stores)))
        data = ds.load(data_dir, ds.Dataset(users=args.users, seed=args.seed))
        for target in sorted(args.turns):
            data = ds.grow(stores, data_dir, data, target, f"[{graph}] ")
            print(f"[{graph}] measuring at {data.turns:,} turns ...", file=sys.stderr)
            wm = working_memory(stores)
            size: dict[str, Any] = {"dataset": dict(vars(data)), "postgres": pg_sizes(stores), "working memory": wm}
            if graph == "falkordb":
                size["graph"] = falkordb_sizes(stores, int(baseline_file.read_text()), int(wm["bytes"]))
            else:
                size["graph"] = neo4j_sizes(stores, data_dir)
            out["sizes"][data.turns] = size
        print(f"[{graph}] HNSW per vector ({', '.join(map(str, args.hnsw_vectors))}) ...", file=sys.stderr)
        dims = stores.settings.embedding_dimensions
        out["hnsw"] = (
            hnsw_falkordb(stores, args.hnsw_vectors, dims)
            if graph == "falkordb"
            else hnsw_neo4j(stores, data_dir, args.hnsw_vectors, dims)
        )
        out["dims"] = dims
        if not args.no_dagster:
            out["dagster"] = dagster_runs(stores, args.consolidate_turns)
    return out


# ---- report -------------------------------------------------------------------------------------------------------


def _b(n: float) -> str:
    return f"{n / MB:,.1f} MiB" if abs(n) >= MB else f"{n / 1024:,.1f} KiB" if abs(n) >= 1024 else f"{n:,.0f} B"


def report(graph: str, result: dict[str, Any]) -> str:
    """The markdown section of one graph's run."""
    sizes = result["sizes"]
    ns = sorted(sizes)
    head = "| | " + " | ".join(f"{n // 1000}k turns" for n in ns) + " | bytes per turn at " + f"{ns[-1] // 1000}k |"
    rule = "|---|" + "---|" * (len(ns) + 1)
    lines = [f"## {GRAPH_NAMES[graph]}", ""]
    d = sizes[ns[-1]]["dataset"]
    lines += [
        f"Data set at the largest size: {d['turns']:,} turns, {d['facts']:,} facts, {d['entities']:,} entities over "
        f"{d['users']} users.",
        "",
        "### PostgreSQL (relations over 8 KiB)",
        "",
        head,
        rule,
    ]
    pg_names = [k for k in sizes[ns[-1]]["postgres"] if sizes[ns[-1]]["postgres"][k] > 8192]
    pg_names.sort(key=lambda k: -sizes[ns[-1]]["postgres"][k])
    for name in pg_names:
        vals = [sizes[n]["postgres"].get(name, 0) for n in ns]
        lines.append(f"| {name} | " + " | ".join(_b(v) for v in vals) + f" | {vals[-1] / ns[-1]:,.0f} |")
    totals = [sum(sizes[n]["postgres"].values()) for n in ns]
    lines.append("| **all memory tables** | " + " | ".join(_b(v) for v in totals) + f" | {totals[-1] / ns[-1]:,.0f} |")
    growth = [(totals[i + 1] - totals[i]) / (ns[i + 1] - ns[i]) for i in range(len(ns) - 1)]
    lines += ["", "Marginal bytes per turn between sizes (all tables): " + ", ".join(f"{g:,.0f}" for g in growth), ""]
    lines += [f"### {GRAPH_NAMES[graph]} graph", "", head, rule]
    for name in sizes[ns[-1]]["graph"]:
        vals = [sizes[n]["graph"].get(name, 0) for n in ns]
        lines.append(f"| {name} | " + " | ".join(_b(v) for v in vals) + f" | {vals[-1] / ns[-1]:,.0f} |")
    key = next(iter(sizes[ns[-1]]["graph"]))
    g_growth = [
        (sizes[ns[i + 1]]["graph"][key] - sizes[ns[i]]["graph"][key]) / (ns[i + 1] - ns[i]) for i in range(len(ns) - 1)
    ]
    lines += ["", f"Marginal bytes per turn between sizes ({key}): " + ", ".join(f"{g:,.0f}" for g in g_growth), ""]
    lines += ["### Redis working memory", "", "| | " + " | ".join(f"{n // 1000}k turns" for n in ns) + " |",
              "|---|" + "---|" * len(ns)]  # fmt: skip
    for name in ("sessions", "turns held per session", "bytes per session", "bytes"):
        vals = [sizes[n]["working memory"][name] for n in ns]
        fmt = _b if name == "bytes" else (lambda v: f"{v:,.0f}")
        lines.append(f"| {name} | " + " | ".join(fmt(v) for v in vals) + " |")
    lines += ["", f"### HNSW index per vector ({result['dims']} dimensions, float32, scratch nodes)", ""]
    server = "GRAPH.MEMORY indices" if graph == "falkordb" else ""
    lines += [
        "| vectors | node + vector property | HNSW index | "
        + (f"{server} (MB-rounded) | " if server else "")
        + "index build |",
        "|---|---|---|---|" + ("---|" if server else ""),
    ]
    for r in result["hnsw"]:
        extra = f"{r['GRAPH.MEMORY indices bytes per vector']:,.0f} B | " if server else ""
        lines.append(
            f"| {r['vectors']:,} | {r['node + vector property bytes per vector']:,.0f} B | "
            f"{r['HNSW index bytes per vector']:,.0f} B | {extra}{r['index build s']:.1f} s |"
        )
    if "dagster" in result:
        dg_ = result["dagster"]
        lines += [
            "",
            "### Dagster: consolidation_job, in-process (episodic_graph, semantic_memory, memory_timeline)",
            "",
            "| measure | value |",
            "|---|---|",
            f"| day partitions holding turns | {dg_['days with turns']:,} |",
            f"| run over an empty partition (the fixed cost of a run) | {dg_['run s, empty partition']:.1f} s |",
            f"| run over the busiest day ({dg_['busiest day']}, {dg_['turns that day']:,} turns) | "
            f"{dg_['run s, busiest day']:.1f} s |",
            f"| consolidation turns/s (busiest day, fixed cost taken off) | {dg_['turns/s, busiest day']:,.0f} |",
            f"| `consolidate_window` over the earliest {dg_['window turns']:,} turns (several days) | "
            f"{dg_['window s']:.1f} s, {dg_['window turns/s']:,.0f} turns/s |",
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hnsw-vectors", type=int, nargs="+", default=[10_000, 40_000])
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the stores here (reused by a later run)")
    parser.add_argument("--consolidate-turns", type=int, default=3000, help="turns of the timed consolidation")
    parser.add_argument("--no-dagster", action="store_true", help="skip the Dagster consolidation runs")
    add_graph_argument(parser)
    args = parser.parse_args()
    began, load_before = time.perf_counter(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        root = args.data_dir.resolve() if args.data_dir else Path(tmp)
        results = {graph: run(graph, args, root) for graph in args.graph}
    command = (
        f".venv/bin/python benchmarks/bench_scaling.py --turns {' '.join(map(str, args.turns))} --users {args.users} "
        f"--hnsw-vectors {' '.join(map(str, args.hnsw_vectors))}"
        + (" --no-dagster" if args.no_dagster else "")
        + graph_flag(args.graph)
        + " [--data-dir DIR]"
    )
    description = (
        "Embedded stores on a shared 2-core machine, hashing embedder (384 dimensions), no LLM; what each number "
        "measures is in the docstring of benchmarks/bench_scaling.py. docs/scaling.md extrapolates these to 10M "
        "turns. Sizes are of the stores' own accounting (PostgreSQL relation sizes, Redis `used_memory` and "
        "`MEMORY USAGE`, FalkorDB `GRAPH.MEMORY USAGE` rounded by the server to whole MB, Neo4j files on disk)."
    )
    body = "\n\n".join(report(graph, r) for graph, r in results.items())
    print(body)
    title = "Storage and batch costs per unit, at growing sizes"
    write_results(results_path(RESULTS, args.graph), title, command, description, began, load_before, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
