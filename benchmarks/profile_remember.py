"""pyinstrument profiles of remember() and of store_turns, written under benchmarks/results/profiles/.

    .venv/bin/python benchmarks/profile_remember.py [--graph falkordb|neo4j] [--turns 20000] [--facts 10000]
        [--entities 5000] [--queries 300] [--data-dir DIR] [--remember-only]

Builds the data of bench_remember (one user, generated chat turns, facts and entities) on a private embedded
stack, or reuses it from --data-dir (built there on the first run, kept running), then profiles 300
remember(top_k=10) calls twice: as they run (the strategies on the store pool; the main thread's view), and
with the pool replaced by in-line calls, so every strategy's own cost shows in one tree. Then 5,000 turns
stored by store_turns in batches of 500, and an `agent-memory import` of a generated 10,000-turn JSONL history
(--import-turns). Writes remember_<graph>.txt, remember_<graph>_inline.txt, store_turns_<graph>.txt and
import_<graph>.txt (--remember-only: the two remember profiles alone; with --html DIR, the interactive pages
too, kept out of the repository: 10-40 MB each).
"""

import argparse
import json
import random
import sys
import tempfile
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "retrieval_eval"))

import bench_import  # noqa: E402
import bench_remember as br  # noqa: E402
from harness import embedded_stores, eval_questions  # noqa: E402
from pyinstrument import Profiler  # noqa: E402

from memory_ops.importer import Importer  # noqa: E402
from memory_ops.stack.embedded import EmbeddedStack  # noqa: E402
from memory_ops.stack.neo4j import EmbeddedNeo4j  # noqa: E402
from memory_runtime.api import AgentMemory  # noqa: E402
from memory_runtime.config import load_settings  # noqa: E402
from memory_runtime.stores.bundle import Stores  # noqa: E402
from memory_runtime.stores.migrations import migrate  # noqa: E402

OUT = HERE / "results" / "profiles"


class Inline:
    """An executor that runs each job at once in the caller's thread."""

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 — handed to the caller through the future
            future.set_exception(exc)
        return future


@contextmanager
def kept_stores(root: Path, graph: str):
    """Stores on an embedded stack kept in `root` (started if down, left running)."""
    env = EmbeddedStack(root / "stack").up()
    values: dict[str, Any] = {"graph_uri": env.graph_uri}
    if graph == "neo4j":
        server = EmbeddedNeo4j(root / "neo4j").up()
        values = {"graph_uri": server.uri, "neo4j_user": server.user, "neo4j_password": server.password}
    settings = load_settings(postgres_uri=env.postgres_uri, redis_uri=env.redis_uri, _env_file=None, **values)
    with Stores.open(settings) as stores:
        migrate(stores.pg, stores.graph, settings.embedding_dimensions, stores.embedder.inner)
        yield stores


def save(profiler: Profiler, name: str, html: Path | None) -> None:
    """The call tree as text (committed); with --html DIR also pyinstrument's interactive page (10-40 MB)."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.txt").write_text(profiler.output_text(unicode=False, color=False))
    print(f"wrote {OUT / name}.txt", file=sys.stderr)
    if html is not None:
        html.mkdir(parents=True, exist_ok=True)
        (html / f"{name}.html").write_text(profiler.output_html())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", choices=["falkordb", "neo4j"], default="falkordb")
    parser.add_argument("--turns", type=int, default=20_000)
    parser.add_argument("--facts", type=int, default=10_000)
    parser.add_argument("--entities", type=int, default=5_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--import-turns", type=int, default=10_000, help="turns of the profiled import")
    parser.add_argument("--html", type=Path, help="also write the interactive HTML profiles into this directory")
    parser.add_argument("--remember-only", action="store_true", help="profile remember() only (no store_turns, import)")
    args = parser.parse_args()
    queries = eval_questions(random.Random(7), args.queries)
    with ExitStack() as stack:
        if args.data_dir:
            args.data_dir.mkdir(parents=True, exist_ok=True)
            stores = stack.enter_context(kept_stores(args.data_dir, args.graph))
        else:
            stores = stack.enter_context(embedded_stores("profile-remember-", args.graph))
        memory = stack.enter_context(AgentMemory(br.USER, stores=stores))
        marker = args.data_dir / f"built-{args.turns}.json" if args.data_dir else None
        if marker is None or not marker.exists():
            stream = br.turn_stream(7)
            br.store_until(memory, stream, 0, args.turns)
            br.learn(memory, args.facts, args.entities, random.Random(7))
            if marker is not None:
                marker.write_text(json.dumps({"turns": args.turns}))
        for q in queries[:20]:  # warm-up
            memory.remember(q, top_k=10)
        for name, inline in ((f"remember_{args.graph}", False), (f"remember_{args.graph}_inline", True)):
            pool = stores.executor
            if inline:
                stores.__dict__["executor"] = Inline()
            profiler = Profiler(interval=0.0005)
            profiler.start()
            for q in queries:
                memory.remember(q, top_k=10)
            profiler.stop()
            stores.__dict__["executor"] = pool
            save(profiler, name, args.html)
        if args.remember_only:
            return 0
        stream = br.turn_stream(11)  # new conversations of the same user, beside the stored ones
        batches = [
            [t.model_copy(update={"conversation_id": f"p{run}-{t.conversation_id}"}) for t in batch]
            for batch in ([next(stream) for _ in range(500)] for _ in range(10))
            for run in [random.randrange(10**9)]
        ]
        profiler = Profiler(interval=0.001)
        profiler.start()
        for batch in batches:
            memory.store_turns(batch)
        profiler.stop()
        save(profiler, f"store_turns_{args.graph}", args.html)
        profile_import(stores, args.import_turns, f"import_{args.graph}", args.html)
    return 0


def profile_import(stores: Stores, turns: int, name: str, html: Path | None) -> None:
    """Profile `agent-memory import` (memory_ops.importer.Importer) of a generated `turns`-turn JSONL history
    (bench_import's generator, conversations of 50 turns) for a user of its own."""
    with tempfile.TemporaryDirectory(prefix="profile-import-") as tmp:
        data = Path(tmp) / "history.jsonl"
        bench_import.generate(data, turns, 50, seed=random.randrange(10**9))
        user = f"import-{random.randrange(10**9)}"  # conversation ids repeat between runs: a user of its own
        importer = Importer(stores, user, batch_size=1000, progress=False, users_from_records=False)
        text = data.read_text().replace('"conversation_id": "bench-', f'"conversation_id": "{user}-')
        data.write_text(text)
        profiler = Profiler(interval=0.001)
        profiler.start()
        summary = importer.run([data])
        profiler.stop()
        assert summary.ok and summary.inserted == turns, (summary.errors, summary.inserted)
        save(profiler, name, html)


if __name__ == "__main__":
    sys.exit(main())
