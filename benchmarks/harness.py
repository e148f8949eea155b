"""Shared benchmark plumbing: a private embedded stack (FalkorDB or Neo4j graph), timing wrappers, percentiles,
a progress line and the side-by-side table of a `--graph both` run."""

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from memory_ops.stack.embedded import EmbeddedStack
from memory_ops.stack.neo4j import EmbeddedNeo4j
from memory_runtime.config import load_settings
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.migrations import migrate

QUESTIONS = Path(__file__).resolve().parent / "retrieval_eval" / "data" / "questions.jsonl"
GRAPHS = ("falkordb", "neo4j")
GRAPH_NAMES = {"falkordb": "FalkorDB", "neo4j": "Neo4j"}


def eval_questions(rng: random.Random | None = None, n: int | None = None) -> list[str]:
    """The retrieval evaluation set's questions, in file order, or `n` of them sampled with `rng` (all of them
    when `n` is at least their number)."""
    questions = [json.loads(line)["question"] for line in QUESTIONS.open()]
    if rng is None or n is None:
        return questions
    return rng.sample(questions, min(n, len(questions)))


def graph_choice(value: str) -> list[str]:
    """The graphs a `--graph falkordb|neo4j|both` argument names, in run order."""
    if value == "both":
        return list(GRAPHS)
    if value not in GRAPHS:
        raise ValueError(f"--graph must be falkordb, neo4j or both, not {value!r}")
    return [value]


def add_graph_argument(parser: argparse.ArgumentParser) -> None:
    """The `--graph falkordb|neo4j|both` option every graph-comparing benchmark takes."""
    parser.add_argument(
        "--graph",
        type=graph_choice,
        default=["falkordb"],
        metavar="{falkordb,neo4j,both}",
        help="graph backend(s); both runs FalkorDB then Neo4j in the same run (default falkordb)",
    )


def graph_flag(graphs: list[str]) -> str:
    """The `--graph` option that reproduces a run over `graphs` ('' for the default, FalkorDB)."""
    if graphs == ["falkordb"]:
        return ""
    return " --graph " + ("both" if len(graphs) > 1 else graphs[0])


def results_path(default: Path, graphs: list[str]) -> Path:
    """Where a run over `graphs` writes its results: `default` for FalkorDB, `<stem>_neo4j.md` for Neo4j,
    `<stem>_graphs.md` for both, so a comparison never overwrites the FalkorDB history."""
    if graphs == ["falkordb"]:
        return default
    return default.with_name(f"{default.stem}_{'graphs' if len(graphs) > 1 else graphs[0]}{default.suffix}")


@contextmanager
def embedded_stores(
    prefix: str,
    graph: str = "falkordb",
    data_dir: Path | None = None,
    neo4j_options: dict[str, Any] | None = None,
    **overrides: Any,
) -> Iterator[Stores]:
    """Migrated Stores on a private embedded stack in a temporary directory; the stack is stopped afterwards.

    `graph="neo4j"` puts the graph on a private local Neo4j Community server (memory_ops.stack.neo4j, its
    default heap and page cache, or the `neo4j_options` given to EmbeddedNeo4j) beside the embedded PostgreSQL and
    Redis. With `data_dir` the stack lives there instead and is kept when stopped, so a later run can reuse what
    this one stored (`stack/`, `neo4j/`).
    """
    place = tempfile.TemporaryDirectory(prefix=prefix) if data_dir is None else nullcontext(str(data_dir))
    with place as tmp, ExitStack() as stop:
        stack = EmbeddedStack(Path(tmp) / "stack")
        env = stack.up()
        stop.callback(stack.down)
        values: dict[str, Any] = {"graph_uri": env.graph_uri}
        if graph == "neo4j":
            neo4j = EmbeddedNeo4j(Path(tmp) / "neo4j", **(neo4j_options or {}))
            server = neo4j.up()
            stop.callback(neo4j.down)
            values = {"graph_uri": server.uri, "neo4j_user": server.user, "neo4j_password": server.password}
        settings = load_settings(
            postgres_uri=env.postgres_uri, redis_uri=env.redis_uri, _env_file=None, **values, **overrides
        )
        with Stores.open(settings) as stores:
            migrate(stores.pg, stores.graph, settings.embedding_dimensions, stores.embedder.inner)
            yield stores


# One top-10 query on the Turn vector index, nothing else (parameter $v): the floor under remember()'s vector
# strategy. Written out per backend rather than through the dialect, so FalkorDB's is the statement the
# benchmark has always timed.
RAW_TURN_VECTOR_QUERY = {
    "falkordb": "CALL db.idx.vector.queryNodes('Turn', 'embedding', 10, vecf32($v)) YIELD node, score "
    "RETURN node.id, score",
    "neo4j": "CALL db.index.vector.queryNodes('turn_embedding', 10, $v) YIELD node, score RETURN node.id, score",
}


def side_by_side(title: str, tables: dict[str, list[tuple[str, str]]]) -> str:
    """One markdown table: a row per measure, a column per graph (`tables`: graph -> [(measure, value)])."""
    graphs = list(tables)
    names = list(dict.fromkeys(name for rows in tables.values() for name, _ in rows))
    values = {g: dict(rows) for g, rows in tables.items()}
    lines = [f"| {title} | " + " | ".join(graphs) + " |", "|---|" + "---|" * len(graphs)]
    lines += [f"| {n} | " + " | ".join(values[g].get(n, "") for g in graphs) + " |" for n in names]
    return "\n".join(lines)


def results_table(runs: dict[str, list[tuple[str, str]]]) -> str:
    """The markdown table of a run over one graph (measure | value) or several (`side_by_side`)."""
    if len(runs) > 1:
        return side_by_side("measure", runs)
    [rows] = runs.values()
    width = max(len(r[0]) for r in rows)
    return f"| {'measure':<{width}} | value |\n|{'-' * (width + 2)}|-------|\n" + "\n".join(
        f"| {name:<{width}} | {value} |" for name, value in rows
    )


class CpuMeter:
    """CPU seconds (user + system) spent by this process, the PostgreSQL server (postmaster, live backends and
    the exited ones it reaped) and a FalkorDB server (its own INFO) since `start()`: on a shared machine a
    rate in wall time follows the other jobs' load, the CPU each part used much less."""

    def __init__(self, stores: Any) -> None:
        import psutil

        backend = stores.pg.fetch("SELECT pg_backend_pid() AS pid")[0]["pid"]
        self._postmaster = psutil.Process(psutil.Process(backend).ppid())
        self._stores = stores
        self.start()

    def _pg(self) -> float:
        t = self._postmaster.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in self._postmaster.children():
            try:
                c = child.cpu_times()
                total += c.user + c.system
            except Exception:  # noqa: BLE001 — a backend that exited meanwhile is counted by its parent
                pass
        return total

    def _graph(self) -> float | None:
        if self._stores.graph.backend != "falkordb":
            return None
        info = self._stores.graph._connection.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def _self(self) -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def start(self) -> None:
        """Start (or restart) counting."""
        self._t0 = (self._self(), self._pg(), self._graph())

    def used(self) -> tuple[float, float, float | None]:
        """(this process, PostgreSQL, FalkorDB or None for another graph) CPU seconds since start()."""
        graph = self._graph()
        t0 = self._t0
        return (
            self._self() - t0[0],
            self._pg() - t0[1],
            None if graph is None or t0[2] is None else graph - t0[2],
        )


class Timer:
    """Accumulates the time spent inside the callables it wraps (a wrapped function binds as a method)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.calls = 0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn`, timed into this Timer."""

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - t
                self.calls += 1

        return wrapped


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`."""
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def progress(what: str, done: int, total: int, started: float) -> None:
    """Rewrite one stderr line with count, rate and ETA."""
    rate = done / max(time.perf_counter() - started, 1e-9)
    eta = (total - done) / rate if rate else 0.0
    print(f"\r  {what}: {done:>7}/{total}  {rate:7.0f}/s  ETA {eta:6.1f} s", end="", file=sys.stderr, flush=True)


def disk_usage(path: Path) -> int:
    """Bytes the files under `path` take on disk (allocated blocks, as `du` counts them); 0 if it does not exist."""
    if not path.exists():
        return 0
    done = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[0])


def write_results(
    path: Path, title: str, command: str, description: str, began: float, load_before: tuple[float, ...], body: str
) -> None:
    """Write a results file: its title, the command that regenerates it, what it measured, when, how long the run
    took (from `began`, a perf_counter reading) and the load average at its start and end, then `body`."""
    from datetime import UTC, datetime
    from os import getloadavg

    load = f"load average {load_before[0]:.2f} at the start, {getloadavg()[0]:.2f} at the end"
    text = (
        f"# {title}\n\nRegenerate: `{command}`\n\n{description}\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d}; whole run {time.perf_counter() - began:.0f} s; {load}.\n\n"
        f"{body.rstrip()}\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}", file=sys.stderr)
