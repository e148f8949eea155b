"""The `agent-memory` command: embedded stores, migrate, demo, dev, import, backfill, reembed, backup, serve, ui.

Every failure the user can fix is one line on stderr naming what to fix, with exit status 1.
"""

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from memory_runtime.domain.errors import AgentMemoryError

if TYPE_CHECKING:
    from memory_ops.progress import ProgressBar
    from memory_ops.stack.embedded import EmbeddedStack
    from memory_runtime.config import Settings

DEFAULT_DATA_DIR = ".stack"


def _data_dir(args: argparse.Namespace) -> Path:
    from memory_runtime.config import load_settings

    return Path(args.data_dir or load_settings().data_dir).resolve()


def _stack(args: argparse.Namespace) -> "EmbeddedStack":
    """The embedded stack of the data directory, with the graph server of --graph, else MEMORY_GRAPH, else the one
    it ran with last."""
    from memory_ops.stack.embedded import EmbeddedStack
    from memory_runtime.config import load_settings

    settings = load_settings()
    configured = settings.graph if "graph" in settings.model_fields_set else None
    return EmbeddedStack(_data_dir(args), getattr(args, "graph", None) or configured)


def cmd_up(args: argparse.Namespace) -> int:
    """Start (or reuse) the embedded stores and print `export` lines for `eval`."""
    env = _stack(args).up()
    for key, value in env.exports().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    """Stop the embedded stores of the data directory."""
    from memory_ops.stack.embedded import EmbeddedStack

    EmbeddedStack(_data_dir(args)).down()  # every server of the directory, whichever graph it has
    print(f"stopped the embedded stores in {_data_dir(args)}", file=sys.stderr)
    return 0


def _configured_status() -> list[tuple[str, bool, str, str]]:
    """Health of the stores the MEMORY_* settings point at."""
    from memory_runtime.config import load_settings
    from memory_runtime.stores.graph import open_graph
    from memory_runtime.stores.postgres import PostgresStore
    from memory_runtime.stores.redis import RedisStore

    settings = load_settings()
    checks: list[tuple[str, str, Callable[[], object]]] = [
        (
            "postgres",
            "MEMORY_POSTGRES_URI",
            lambda: PostgresStore(settings.require("postgres_uri"), settings.postgres_schema),
        ),
        (
            "redis",
            "MEMORY_REDIS_URI",
            lambda: RedisStore(settings.require("redis_uri"), settings.redis_prefix),
        ),
        ("graph", "MEMORY_GRAPH_URI", lambda: open_graph(settings)),
    ]
    out = []
    for name, setting, make in checks:
        try:
            store = make()
            try:
                out.append((name, True, store.server_version(), setting))  # type: ignore[attr-defined]
            finally:
                store.close()  # type: ignore[attr-defined]
        except AgentMemoryError as exc:
            out.append((name, False, "", str(exc)))
    return out


def _embedder_status(settings: "Settings", postgres_uri: str) -> tuple[str, str, str]:
    """(state, configured embedder id, detail): is the configured embedder the one that wrote the vectors?

    Informational: status exits 1 only for a store that is down."""
    from memory_runtime.embeddings import make_embedder
    from memory_runtime.stores.embedder_record import EmbeddingState
    from memory_runtime.stores.postgres import PostgresStore
    from memory_runtime.stores.postgres.settings import MODEL, read_settings

    try:
        configured = make_embedder(settings).model_id
        pg = PostgresStore(postgres_uri, settings.postgres_schema, min_size=1, max_size=1)
        try:
            recorded = read_settings(pg)
        finally:
            pg.close()
    except AgentMemoryError as exc:
        return "ERROR", "", str(exc)
    if recorded is None:
        return "-", configured, "not migrated yet: run `agent-memory migrate`"
    state = EmbeddingState(recorded.get(MODEL), configured)
    if state.unrecorded:
        return "-", configured, f"the stored vectors' embedder is not recorded yet; run `{state.fix}`"
    if state.stale:
        return "STALE", configured, f"stored vectors by {state.recorded}; run `{state.fix}`"
    return "current", configured, f"stored vectors by {state.recorded}"


def _vector_index_status(settings: "Settings") -> tuple[str, str, str]:
    """(state, indexes with their dimension, detail): each graph vector index, its vectors and probe health."""
    from memory_runtime.batch.reindex import DEFAULT_THRESHOLD, check_vector_indexes
    from memory_runtime.stores.bundle import Stores

    try:
        with Stores.open(settings) as stores:
            dims = stores.graph.vector_dimensions()
            health = [h for h in check_vector_indexes(stores) if h.label in dims] if dims else []
    except AgentMemoryError as exc:
        return "ERROR", "", str(exc)
    if not dims:
        return "-", "", "no vector index yet: run `agent-memory migrate`"
    listed = ", ".join(f"{label} {d}d" for label, d in sorted(dims.items()))
    detail = "; ".join(f"{h.label}: {h.vectors} vectors, health {h.health:.2f}" for h in health)
    if any(h.health < DEFAULT_THRESHOLD for h in health):
        return "DEGRADED", listed, f"{detail}; run `agent-memory reindex`"
    return "online", listed, detail


def cmd_status(args: argparse.Namespace) -> int:
    """Report health and version of each store (configured URIs, else the embedded stack), and whether the
    configured embedder wrote the stored vectors."""
    from memory_runtime.config import load_settings

    settings = load_settings()
    if settings.postgres_uri or settings.redis_uri or settings.graph_uri:
        rows = _configured_status()
        postgres_uri = settings.postgres_uri
    else:
        from memory_ops.stack.embedded import EmbeddedStack

        stack = EmbeddedStack(_data_dir(args))
        rows = [(s.name, s.healthy, s.version, s.detail) for s in stack.status()]
        env = stack.env()
        postgres_uri = env.postgres_uri
        settings = load_settings(**{k.removeprefix("MEMORY_").lower(): v for k, v in env.exports().items()
                                    if k.startswith("MEMORY_") and k != "MEMORY_DATA_DIR"})  # fmt: skip
    lines = [(name, "healthy" if healthy else "DOWN", version, detail) for name, healthy, version, detail in rows]
    if postgres_uri and all(healthy for name, healthy, *_ in rows if name == "postgres"):
        lines.append(("embedder", *_embedder_status(settings, postgres_uri)))
    if all(healthy for _, healthy, *_ in rows):
        lines.append(("vectors", *_vector_index_status(settings)))
    width = max(len(line[0]) for line in lines)
    for name, state, version, detail in lines:
        print(f"{name:<{width}}  {state:<7}  {version or '-'}  ({detail})")
    return 0 if all(r[1] for r in rows) else 1


def _settings_with_stack(args: argparse.Namespace) -> tuple["Settings", bool]:
    """Settings from env/.env; without store URIs, the embedded stack of the data dir is used.

    Returns the settings and whether this call started the embedded stores (so the caller may stop them).
    """
    import os

    from memory_runtime.config import load_settings

    settings = load_settings()
    if settings.postgres_uri and settings.redis_uri and settings.graph_uri:
        return settings, False

    stack = _stack(args)
    was_running = all(s.healthy for s in stack.status())
    os.environ.update(stack.up().exports())
    return load_settings(), not was_running


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the SQL migrations and the graph schema (idempotent)."""
    from memory_runtime.stores.bundle import Stores
    from memory_runtime.stores.migrations import migrate

    settings, _ = _settings_with_stack(args)
    with Stores.open(settings) as stores:
        report = migrate(stores.pg, stores.graph, settings.embedding_dimensions, stores.embedder.inner)
    if report.changed:
        backfilled = f"; backfilled lookup keys of {report.backfilled} graph node(s)" if report.backfilled else ""
        recorded = f"; recorded the vectors' embedder: {report.recorded_model}" if report.recorded_model else ""
        print(f"applied {len(report.applied)} SQL migration(s) {report.applied or ''} and "
              f"{len(report.graph.created)} graph schema element(s){backfilled}{recorded}")  # fmt: skip
    else:
        print("schema is up to date; nothing to do")
    return 0  # a stale embedder is logged by migrate: a warning, not a failure


def cmd_demo(args: argparse.Namespace) -> int:
    """Start the embedded stores, migrate, tour the API, then import the sample history, consolidate it with the
    Dagster job (a backfill) and recall from it."""
    from memory_ops.demo import SAMPLE, recall_sample, run_tour
    from memory_ops.stack.embedded import EmbeddedStack

    settings, started = _settings_with_stack(args)
    try:
        run_tour(settings)
        if not SAMPLE.exists():
            print(f"\n(sample history {SAMPLE} not found: skipping the import + consolidation part)")
            return 0
        print(f"\n##### importing {SAMPLE.name} and running the consolidation job over its days\n", flush=True)
        status = main(["import", str(SAMPLE), "--users-from-records", "--backfill"])
        if status == 0:
            recall_sample(settings)
        return status
    finally:
        if started and not args.keep:
            EmbeddedStack(_data_dir(args)).down()
            print("stopped the embedded stores (pass --keep to leave them running)", file=sys.stderr)


def cmd_dev(args: argparse.Namespace) -> int:
    """Embedded stores + `dagster dev` (webserver and daemon) on them."""
    from memory_ops.devserver import run_dev

    return run_dev(_data_dir(args), host=args.host, port=args.port)


def cmd_reproject(args: argparse.Namespace) -> int:
    """Project into the graph every turn of the log that the graph is missing."""
    from memory_runtime.memory.episodic import reproject
    from memory_runtime.stores.bundle import Stores

    settings, _ = _settings_with_stack(args)
    with Stores.open(settings) as stores:
        report = reproject(stores, user_id=args.user)
    print(f"checked {report.checked} turn(s); projected {report.projected} missing turn(s)")
    return 0


def cmd_reembed(args: argparse.Namespace) -> int:
    """Recompute every stored vector with the configured embedder (resumable), then record it."""
    from memory_ops.progress import ProgressBar
    from memory_runtime.batch import reembed
    from memory_runtime.stores.bundle import Stores

    settings, _ = _settings_with_stack(args)
    with Stores.open(settings) as stores:
        plan = reembed.plan(stores, user_id=args.user)
        print(plan.render(), file=sys.stderr, flush=True)
        if args.dry_run or plan.nothing_to_do:
            if args.dry_run and not plan.nothing_to_do:
                print("dry run: nothing was embedded or written", file=sys.stderr)
            return 0
        bar = ProgressBar(plan.total, "re-embedding", unit="vectors")
        done: dict[str, int] = {}

        def advance(kind: str, vectors: int) -> None:
            done[kind] = done.get(kind, 0) + vectors
            bar.note = f"{kind} {done[kind]:,}/{plan.pending.get(kind, 0):,}"
            bar.advance(vectors, vectors)

        try:
            report = reembed.reembed(stores, user_id=args.user, batch_size=args.batch_size, progress=advance)
        except KeyboardInterrupt:
            print("\ninterrupted: progress is saved; run `agent-memory reembed` again to resume", file=sys.stderr)
            return 130
        finally:
            bar.close()
    print(report.render())
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    """Report each vector index's health and rebuild those below the threshold (all with --force; the large
    Neo4j ones with --compact)."""
    from memory_runtime.batch import reindex as maintenance
    from memory_runtime.stores.bundle import Stores

    settings, _ = _settings_with_stack(args)
    with Stores.open(settings) as stores:
        if args.check:
            report = maintenance.check_vector_indexes(stores)
        else:
            say = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
            report = maintenance.repair_vector_indexes(
                stores, args.threshold, force=args.force, compact=args.compact, progress=say
            )
    print(f"{'index':<10} {'vectors':>8} {'health':>7} {'after':>7} {'rebuild':>8}")
    for i in report:
        after = "" if i.health_after is None else f"{i.health_after:.2f}"
        rebuilt = f"{i.seconds:.1f} s" if i.rebuilt else ""
        print(f"{i.label:<10} {i.vectors:>8} {i.health:>7.2f} {after:>7} {rebuilt:>8}")
    unhealthy = [i.label for i in report if (i.health if i.health_after is None else i.health_after) < args.threshold]
    if unhealthy and args.check:
        print(
            f"below {args.threshold:.2f}: {', '.join(unhealthy)}; run `agent-memory reindex` to rebuild",
            file=sys.stderr,
        )
    return 1 if unhealthy else 0


class _StepBars:
    """backup/restore progress: one ProgressBar per long step on stderr (`--no-progress`: none)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: ProgressBar | None = None

    def step(self, name: str, total: int, unit: str) -> None:
        from memory_ops.progress import NoProgress, ProgressBar

        self.close()
        self.bar = (NoProgress if self.quiet else ProgressBar)(max(total, 1), f"{name:<10}", unit=unit)

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.advance(n, n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.advance(self.bar.total)  # a step may count fewer items than it announced (skipped rows)
            self.bar.close()
            self.bar = None


def cmd_backup(args: argparse.Namespace) -> int:
    """Write a consistent, versioned backup of every store into a new directory."""
    from memory_runtime.batch.backup import write_backup
    from memory_runtime.stores.bundle import Stores

    settings, _ = _settings_with_stack(args)
    bars = _StepBars(args.no_progress)
    with Stores.open(settings) as stores:
        try:
            manifest = write_backup(stores, Path(args.directory), bars)
        finally:
            bars.close()
    size = sum(f.bytes for f in manifest.files.values())
    rows = sum(t.rows for t in manifest.postgres.tables.values())
    print(
        f"backed up {rows:,} rows, {sum(manifest.graph.nodes.values()):,} graph nodes, "
        f"{manifest.graph.relationships:,} relationships and {manifest.redis.keys:,} Redis keys to {args.directory} "
        f"({size / 1e6:,.1f} MB, {manifest.seconds:.1f} s, schema version {manifest.schema_version})"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Rebuild an empty store from a backup directory (checked first), then re-project the graph."""
    from memory_runtime.batch.restore import restore_backup
    from memory_runtime.stores.bundle import Stores

    settings, _ = _settings_with_stack(args)
    bars = _StepBars(args.no_progress)
    with Stores.open(settings) as stores:
        try:
            report = restore_backup(stores, Path(args.directory), force=args.force, progress=bars)
        finally:
            bars.close()
    print(report.render())
    return 0


def _backfill_request(args: argparse.Namespace, start: str, end: str, settings: "Settings"):  # -> BackfillRequest
    from memory_ops.backfill import BackfillRequest, parse_day

    return BackfillRequest.plan(
        parse_day(start, "--from"), parse_day(end, "--to"), settings, job=args.job, select=args.select
    )


def _launch_backfill(args: argparse.Namespace, request: object, settings: "Settings") -> int:
    """Run or launch a backfill (the dagster CLI here, or GraphQL on --url) and say where to watch it."""
    import os

    from memory_ops.backfill import child_environment, launch_via_webserver, run_backfill, watch_hint

    if args.url:
        outcome = launch_via_webserver(request, args.url, wait=args.wait)  # type: ignore[arg-type]
    else:
        env = child_environment(settings, os.environ)
        outcome = run_backfill(request, env, multiprocess=args.multiprocess, verbose=args.verbose)  # type: ignore[arg-type]
    print(watch_hint(request, outcome, args.url))  # type: ignore[arg-type]
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import conversation files with their original timestamps; optionally backfill their days."""
    import json

    from memory_ops.importer import Importer

    if args.dry_run:
        from memory_runtime.config import load_settings

        summary = Importer(
            None,
            args.user,
            fmt=args.format,
            users_from_records=args.users_from_records,
            batch_size=args.batch_size,
            dry_run=True,
            settings=load_settings(),
        ).run(args.paths)
        print(json.dumps(summary.as_dict(), indent=2) if args.json else summary.render())
        return 0 if summary.ok else 1
    from memory_runtime.stores.bundle import Stores

    settings, _ = _settings_with_stack(args)
    with Stores.open(settings) as stores:
        summary = Importer(
            stores,
            args.user,
            fmt=args.format,
            users_from_records=args.users_from_records,
            batch_size=args.batch_size,
            progress=not args.no_progress,
        ).run(args.paths)
    print(json.dumps(summary.as_dict(), indent=2) if args.json else summary.render(), flush=True)
    status = 0 if summary.ok else 1
    if args.backfill:
        span = summary.date_range()
        if span is None:
            print("nothing was imported, so there is nothing to backfill", file=sys.stderr)
            return status
        from datetime import UTC, datetime

        from memory_ops.backfill import parse_day

        first = max(span[0], parse_day(settings.partitions_start_date, "MEMORY_PARTITIONS_START_DATE"))
        last = min(span[1], datetime.now(UTC).date())
        if first > last:
            print(f"the imported days {span[0]}..{span[1]} are outside the day partitions", file=sys.stderr)
            return status
        request = _backfill_request(args, first.isoformat(), last.isoformat(), settings)
        status = max(status, _launch_backfill(args, request, settings))
    return status


def cmd_backfill(args: argparse.Namespace) -> int:
    """Consolidate a day range through Dagster (one single-run backfill over the day partitions)."""
    if args.url:
        from memory_runtime.config import load_settings

        settings = load_settings()
    else:
        settings, _ = _settings_with_stack(args)
    return _launch_backfill(args, _backfill_request(args, args.start, args.end, settings), settings)


def cmd_metrics_server(args: argparse.Namespace) -> int:
    """Serve Prometheus metrics (with the reflection-stream lag) until interrupted."""
    from memory_runtime import metrics
    from memory_runtime.config import load_settings
    from memory_runtime.domain.errors import NotFoundError
    from memory_runtime.memory.reflection import DEFAULT_GROUP, ReflectionQueue
    from memory_runtime.stores.redis import RedisStore

    settings = load_settings()
    redis = RedisStore(
        settings.require("redis_uri"), settings.redis_prefix, connect_timeout_s=settings.connect_timeout_s
    )

    def lag() -> int:
        try:
            return ReflectionQueue(redis).lag(DEFAULT_GROUP)
        except NotFoundError:  # no consumer group yet: nothing has been read, nothing is late
            return 0

    print(f"serving metrics on http://{args.addr}:{args.port}/metrics", file=sys.stderr)
    try:
        metrics.serve(args.port, args.addr, interval_s=args.interval, lag_probe=lag)
    finally:
        redis.close()
    return 0


def _server_stores(args: argparse.Namespace):  # -> Stores
    """Stores for the server commands, on a migrated schema (else a SchemaError saying to migrate)."""
    from memory_runtime.stores.bundle import Stores
    from memory_runtime.stores.migrations import check_schema

    settings, _ = _settings_with_stack(args)
    stores = Stores.open(settings)
    try:
        check_schema(stores.pg, settings.embedding_dimensions, stores.embedder.model_id)
    except BaseException:
        stores.close()
        raise
    return stores


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the REST API (/v1) and the MCP server (/mcp) until interrupted."""
    import uvicorn

    from memory_ops.server.app import create_app
    from memory_ops.server.settings import ServerSettings

    server = ServerSettings()
    host = args.host or server.server_host
    port = server.server_port if args.port is None else args.port
    server = server.model_copy(update={"server_host": host, "server_port": port})
    with _server_stores(args) as stores:
        app = create_app(stores, server)
        base = server.server_public_url or f"http://{host}:{port}"
        print(f"REST API  {base}/v1   (OpenAPI: {base}/openapi.json, docs: {base}/docs)", file=sys.stderr)
        print(f"MCP       {base}/mcp  (streamable HTTP; Authorization: Bearer <key>)", file=sys.stderr, flush=True)
        uvicorn.run(app, host=host, port=port, log_level=args.log_level, timeout_graceful_shutdown=10)
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    """Open the memory browser on the stores (the embedded ones unless URIs are configured) until interrupted."""
    import secrets
    import webbrowser

    import uvicorn

    from memory_ops.server.app import create_app
    from memory_ops.server.settings import ServerSettings
    from memory_runtime.config import load_settings

    configured = load_settings()
    if not (configured.postgres_uri and configured.graph_uri and configured.redis_uri):
        cmd_migrate(args)  # the embedded stores: make sure the schema is there (idempotent)
    server = ServerSettings()
    port = server.server_port if args.port is None else args.port
    server = server.model_copy(update={"server_host": args.host, "server_port": port})
    code = secrets.token_urlsafe(32)  # signs in the local operator; lives only as long as this process
    with _server_stores(args) as stores:
        app = create_app(stores, server, mcp=False, ui_operator_code=code)
        url = f"http://{args.host}:{port}/ui/login#key={code}"
        print(f"memory browser  {url}", file=sys.stderr)
        print("(that link signs in as the local operator, who sees every user; tenant API keys work too)",
              file=sys.stderr, flush=True)  # fmt: skip
        if not args.no_browser:
            webbrowser.open(url)
        uvicorn.run(app, host=args.host, port=port, log_level=args.log_level, timeout_graceful_shutdown=10)
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    """Serve the MCP tools over stdio for one user, acting with the tenant key in MEMORY_API_KEY."""
    from memory_ops.server.keys import KeyVerifier
    from memory_ops.server.mcp_server import build_stdio_mcp_server
    from memory_ops.server.service import MemoryService
    from memory_ops.server.settings import ServerSettings
    from memory_ops.server.tenancy import TenantMemories, runtime_user_id

    server = ServerSettings()
    if server.api_key is None:
        print("agent-memory mcp: set MEMORY_API_KEY to a key from `agent-memory keys create`", file=sys.stderr)
        return 1
    with _server_stores(args) as stores:
        principal = KeyVerifier(stores.pg, 0).verify(server.api_key.get_secret_value())
        if principal is None:
            print("agent-memory mcp: MEMORY_API_KEY is not a valid, unrevoked key", file=sys.stderr)
            return 1
        runtime_user_id(principal.tenant, args.user_id)  # a bad user id fails here, before the client connects
        service = MemoryService(TenantMemories(stores, server.server_memory_cache))
        build_stdio_mcp_server(service, principal, args.user_id).run("stdio")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    """Create, list or revoke API keys of the server."""
    from memory_ops.server import keys

    with _server_stores(args) as stores:
        if args.keys_command == "create":
            new = keys.create_key(stores.pg, args.tenant, admin=args.admin, label=args.label)
            role = "admin key" if new.row.admin else "key"
            print(f"created {role} {new.row.id} of tenant {new.row.tenant}; it is shown only now:", file=sys.stderr)
            print(new.key)
        elif args.keys_command == "list":
            rows = keys.list_keys(stores.pg, args.tenant)
            print(
                f"{'id':<16}  {'tenant':<20}  {'role':<5}  {'created':<19}  {'last used':<19}  {'revoked':<19}  label"
            )

            def when(t: object) -> str:
                return t.strftime("%Y-%m-%d %H:%M:%S") if t is not None else "-"  # type: ignore[attr-defined]

            for r in rows:
                role = "admin" if r.admin else "user"
                print(f"{r.id:<16}  {r.tenant:<20}  {role:<5}  {when(r.created_at):<19}  {when(r.last_used_at):<19}  "
                      f"{when(r.revoked_at):<19}  {r.label or ''}")  # fmt: skip
        elif not keys.revoke_key(stores.pg, args.key_id):
            print(f"agent-memory keys revoke: no active key {args.key_id!r}", file=sys.stderr)
            return 1
        else:
            print(f"revoked key {args.key_id}", file=sys.stderr)
    return 0


IMPORT_FORMATS = ("auto", "jsonl", "openai", "chatgpt", "sessions")


def _backfill_options(p: argparse.ArgumentParser) -> None:
    from memory_ops.backfill import DEFAULT_JOB

    p.add_argument("--job", help=f"Dagster job whose assets are backfilled (default: {DEFAULT_JOB})")
    p.add_argument("--select", help="comma-separated asset keys instead of a job (dagster asset materialize)")
    p.add_argument("--url", help="launch on a running Dagster webserver (GraphQL), e.g. http://127.0.0.1:3000")
    p.add_argument("--wait", action="store_true", help="with --url: wait until the backfill has finished")
    p.add_argument("--multiprocess", action="store_true", help="one process per step (default: in-process)")
    p.add_argument("--verbose", action="store_true", help="show Dagster's full event log")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `agent-memory`."""
    parser = argparse.ArgumentParser(prog="agent-memory", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--data-dir", help=f"embedded store directory (default: MEMORY_DATA_DIR or {DEFAULT_DATA_DIR})")
        p.set_defaults(func=fn)
        return p

    up = add("up", cmd_up, 'start the embedded stores and print export lines: eval "$(agent-memory up)"')
    add("down", cmd_down, "stop the embedded stores")
    add("status", cmd_status, "health and version of each store")
    add("migrate", cmd_migrate, "apply the schema to PostgreSQL and the graph (idempotent)")
    demo = add("demo", cmd_demo, "store a sample multi-session conversation and show what remember() returns")
    demo.add_argument("--keep", action="store_true", help="leave the embedded stores running afterwards")
    for graph_parser in (up, demo):
        graph_parser.add_argument(
            "--graph",
            choices=("falkordb", "neo4j"),
            help="graph server of the embedded stack (default: MEMORY_GRAPH, else the last one, else falkordb); "
            "neo4j starts a local Neo4j Community server (Java 17+, built from Maven Central on first use)",
        )
    dev = add("dev", cmd_dev, "embedded stores + the Dagster UI, daemon, sensors and schedules")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    met = add("metrics-server", cmd_metrics_server, "serve Prometheus metrics of this host's agents on /metrics")
    met.add_argument("--port", type=int, default=9464)
    met.add_argument("--addr", default="127.0.0.1", help="listen address (loopback by default)")
    met.add_argument("--interval", type=float, default=15.0, help="seconds between reflection-lag probes")
    rep = add("reproject", cmd_reproject, "re-project turns the graph is missing (after a graph outage)")
    rep.add_argument("--user", help="only this user's turns")
    ree = add("reembed", cmd_reembed, "recompute every stored vector with the configured embedder (resumable)")
    ree.add_argument("--user", help="only this user's vectors (the recorded embedder changes only without --user)")
    ree.add_argument("--batch-size", type=int, default=256, help="vectors per embed() call and write")
    ree.add_argument("--dry-run", action="store_true", help="only count what would be recomputed")
    rix = add("reindex", cmd_reindex, "measure the graph's vector indexes and rebuild those that lost live nodes")
    rix.add_argument("--check", action="store_true", help="only report; exit 1 if an index is below the threshold")
    rix.add_argument("--force", action="store_true", help="rebuild every vector index")
    rix.add_argument(
        "--compact",
        action="store_true",
        help="also rebuild Neo4j vector indexes of 1000+ vectors into few Lucene segments (faster queries)",
    )
    rix.add_argument("--threshold", type=float, default=0.9, help="health below which an index is rebuilt")
    bk = add("backup", cmd_backup, "write a consistent, versioned backup of every store into a new directory")
    bk.add_argument("directory", metavar="DIR", help="the backup directory (must not exist, or be empty)")
    bk.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    rs = add("restore", cmd_restore, "rebuild an empty store from a backup directory and re-project the graph")
    rs.add_argument("directory", metavar="DIR", help="a directory written by `agent-memory backup`")
    rs.add_argument("--force", action="store_true", help="replace whatever the target store holds")
    rs.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    imp = add("import", cmd_import, "import conversation files with their original timestamps (jsonl, openai, ...)")
    imp.add_argument("paths", nargs="+", metavar="PATH", help="files, or directories of .json/.jsonl/.ndjson files")
    imp.add_argument("--user", help="the user who owns the imported conversations")
    imp.add_argument("--format", default="auto", choices=IMPORT_FORMATS, help="file format (default: detect)")
    imp.add_argument(
        "--users-from-records",
        action="store_true",
        help="jsonl: store each conversation under its records' user_id (--user is the default for the rest)",
    )
    imp.add_argument("--dry-run", action="store_true", help="parse and validate only; write nothing")
    imp.add_argument("--batch-size", type=int, default=1000, help="turns per store_turns transaction")
    imp.add_argument("--json", action="store_true", help="print the summary as JSON")
    imp.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    imp.add_argument("--backfill", action="store_true", help="then backfill the imported days in Dagster")
    _backfill_options(imp)
    srv = add("serve", cmd_serve, "serve the REST API (/v1) and the MCP server (/mcp) with per-tenant API keys")
    srv.add_argument("--host", help="listen address (default: MEMORY_SERVER_HOST or 127.0.0.1)")
    srv.add_argument("--port", type=int, help="listen port (default: MEMORY_SERVER_PORT or 8080)")
    srv.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    ui = add("ui", cmd_ui, "open the memory browser (/ui) on the embedded stores, signed in as the local operator")
    ui.add_argument("--host", default="127.0.0.1", help="listen address (loopback by default)")
    ui.add_argument("--port", type=int, help="listen port (default: MEMORY_SERVER_PORT or 8080)")
    ui.add_argument("--no-browser", action="store_true", help="only print the sign-in link")
    ui.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"))
    mcp = add("mcp", cmd_mcp, "serve the MCP tools over stdio for one user (key from MEMORY_API_KEY)")
    mcp.add_argument("--user-id", required=True, help="the tenant's user every tool call acts for")
    keys = add("keys", cmd_keys, "create, list or revoke the server's API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="make a key of a tenant; it is printed once")
    create.add_argument("--tenant", required=True, help="tenant name: a-z, 0-9, '_' and '-' (at most 63)")
    create.add_argument("--admin", action="store_true", help="may also forget users of the tenant")
    create.add_argument("--label", help="a note to recognise the key by")
    listing = keys_sub.add_parser("list", help="every key (never a secret), revoked ones included")
    listing.add_argument("--tenant", help="only this tenant's keys")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", help="the key's id (the 16 hex digits after am_) or the whole key")
    bf = add("backfill", cmd_backfill, "consolidate a range of days in Dagster (one single-run backfill)")
    bf.add_argument("--from", dest="start", required=True, metavar="DATE", help="first day, YYYY-MM-DD (UTC)")
    bf.add_argument("--to", dest="end", required=True, metavar="DATE", help="last day, YYYY-MM-DD (UTC)")
    _backfill_options(bf)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `agent-memory` console script."""
    from memory_ops.stack.embedded import EmbeddedStackError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (AgentMemoryError, EmbeddedStackError) as exc:
        print(f"agent-memory {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
