"""Neo4j backend (production): the official driver over Bolt.

Every statement this module and `queries/` emit in the Neo4j dialect is checked by Neo4j's own parser
(tests/test_neo4j_lint.py), and the tests parametrised over the graph backends run against a real Neo4j
Community server that the test suite starts itself (memory_ops/stack/neo4j.py), or NEO4J_URI.
"""

import random
import re
import time
from collections.abc import Mapping
from typing import Any

from memory_runtime.domain.errors import (
    AgentMemoryError,
    ConfigurationError,
    GraphQueryError,
    IndexUnavailableError,
    SchemaError,
    StoreUnavailableError,
    ValidationError,
)
from memory_runtime.stores.graph import traced
from memory_runtime.stores.graph.base import GraphStore, Row, SchemaReport, plain
from memory_runtime.stores.graph.dialect import Neo4jDialect
from memory_runtime.stores.graph.schema import SCHEMA, GraphSchema

_SETTING = "MEMORY_GRAPH_URI / MEMORY_NEO4J_USER / MEMORY_NEO4J_PASSWORD"

# Administrative statements (schema introspection and reset), kept here so the linter sees them.
SHOW_VECTOR_INDEXES = (
    "SHOW INDEXES YIELD name, type, labelsOrTypes, options WHERE type = 'VECTOR' "
    "RETURN name, labelsOrTypes AS labels, options"
)
SHOW_FULLTEXT_INDEXES = (
    "SHOW INDEXES YIELD name, type, options WHERE type = 'FULLTEXT' "
    "RETURN name, options.indexConfig['fulltext.analyzer'] AS analyzer"
)
SHOW_SCHEMA_NAMES = "SHOW INDEXES YIELD name, owningConstraint RETURN name, owningConstraint"
SHOW_CONSTRAINT_NAMES = "SHOW CONSTRAINTS YIELD name RETURN name"
VERSION = "CALL dbms.components() YIELD name, versions, edition RETURN name, versions, edition"
DELETE_BATCH = "MATCH (n) WITH n LIMIT 10000 DETACH DELETE n RETURN count(*) AS deleted"
# New indexes are POPULATING for a moment; a vector or full-text query on one fails ("not online").
AWAIT_INDEXES = "CALL db.awaitIndexes(300)"
AWAIT_INDEX = "CALL db.awaitIndex($name, $timeout)"
# Retry pauses of a failed statement: the first, and the longest (each doubles, within the retry budget).
_FIRST_RETRY_S = 0.02
_MAX_RETRY_PAUSE_S = 0.5
_CONTENTION_RETRY_S = 30.0
MIN_VERSION = (5, 13)  # vector indexes (db.index.vector.queryNodes) are GA from 5.13
# How Neo4j answers a search on an index that is missing or not online (the procedures wait up to 30 s for a
# populating index first): the statement is sound, the index is being rebuilt (`rebuild_vector_index`).
_INDEX_UNAVAILABLE = re.compile(
    r"There is no such (?:vector |fulltext )?(?:schema )?index|"
    r"index .{0,80}(?:is not online|did not come online|still populating|is populating)",
    re.IGNORECASE,
)


def drop_index(name: str) -> str:
    """DROP INDEX statement for a (validated) index name."""
    from memory_runtime.stores.graph.cypher import ident

    return f"DROP INDEX {ident(name)} IF EXISTS"


def drop_constraint(name: str) -> str:
    """DROP CONSTRAINT statement for a (validated) constraint name."""
    from memory_runtime.stores.graph.cypher import ident

    return f"DROP CONSTRAINT {ident(name)} IF EXISTS"


def _query_error(exc: Exception, cypher: str) -> AgentMemoryError:
    """The typed error of a statement Neo4j rejected: `IndexUnavailableError` when the index it searches is
    missing or not online yet, else `GraphQueryError`."""
    message = str(exc)
    if _INDEX_UNAVAILABLE.search(message):
        return IndexUnavailableError("Neo4j", message)
    return GraphQueryError(message, cypher)


class Neo4jGraphStore(GraphStore):
    """GraphStore over a Neo4j 5.15+ database."""

    backend = "neo4j"
    dialect: Neo4jDialect
    vector_indexes_fragment = True

    def __init__(
        self,
        uri: str,
        user: str | None,
        password: str | None,
        database: str | None = None,
        *,
        connect_timeout_s: float = 5.0,
        max_connections: int = 16,
    ):
        import neo4j

        if not user or not password:
            raise ConfigurationError(
                "a Neo4j graph URI needs credentials: set MEMORY_NEO4J_USER and MEMORY_NEO4J_PASSWORD"
            )
        self._neo4j = neo4j
        self._contention_errors = (neo4j.exceptions.TransientError, neo4j.exceptions.ConnectionAcquisitionTimeoutError)
        self.dialect = Neo4jDialect()
        self.database = database
        self.max_connections = max_connections
        self.retry_s = max(connect_timeout_s, 1.0)
        # The driver retries a failed transaction (server unreachable, deadlock, leader switch) for up to 30 s by
        # default, sleeping 1, 2, 4, 8 ... s in between: with the graph down, every write and each strategy of a
        # remember() would hang that long before reporting it. Statements retry within the connect timeout
        # instead (`_auto_commit`; the driver's own limit is set alike for any managed transaction), as
        # the FalkorDB backend does: one retry replaces the stale pooled connections after a server restart,
        # and an outage surfaces as StoreUnavailableError while the turns stay durable in Postgres.
        self._driver = self._new_driver(
            uri,
            auth=(user, password),
            connection_timeout=connect_timeout_s,
            connection_acquisition_timeout=max(connect_timeout_s, 1.0) * 2,
            max_connection_pool_size=max_connections,
            max_transaction_retry_time=self.retry_s,
            # The shared Cypher names every relationship type and property a query may meet; on a graph that
            # has none yet, Neo4j answers each statement with "does not exist" notifications, which the driver
            # logs as warnings: one log line per type on every remember(). They carry nothing for this code.
            notifications_min_severity="OFF",
        )

    def _new_driver(self, uri: str, **options: Any) -> Any:
        """The driver (the asyncio store makes an asyncio one with the same options)."""
        return self._neo4j.GraphDatabase.driver(uri, **options)

    @traced.statement
    def _run(self, cypher: str, params: Mapping[str, Any] | None, read_only: bool) -> list[Row]:
        exc_mod = self._neo4j.exceptions
        values = plain(dict(params or {}))
        try:
            return self._auto_commit(cypher, values, read_only)
        except exc_mod.AuthError as exc:
            raise StoreUnavailableError("Neo4j", _SETTING, f"authentication failed: {exc}") from exc
        except (exc_mod.ServiceUnavailable, exc_mod.SessionExpired) as exc:
            raise StoreUnavailableError("Neo4j", _SETTING, str(exc)) from exc
        except exc_mod.Neo4jError as exc:
            raise _query_error(exc, cypher) from exc
        except UnicodeEncodeError as exc:  # lone surrogates fail while packing: nothing was sent
            raise ValidationError(f"a graph query parameter is not valid Unicode text: {exc}") from None

    def _auto_commit(self, cypher: str, params: dict[str, Any], read_only: bool) -> list[Row]:
        """One statement as one auto-commit transaction: RUN and PULL in one round trip, where `execute_query`'s
        managed transaction adds BEGIN and COMMIT round trips to every statement.

        The session shares `execute_query`'s bookmark manager, so a read routed to another cluster member still
        sees this process's writes. A failure the driver calls retryable (a deadlock between concurrent writers,
        a stale pooled connection after a server restart, a leader switch) is retried for up to `retry_s`, after
        a short jittered pause that doubles each time (the driver's own retries sleep 1 s, then 2 s). A transient
        error (a deadlock between concurrent writers: 25 coroutines writing one conversation ran out of a 5 s
        budget waiting for each other's locks) or a pool whose every connection is busy waiting for such locks
        is retried for up to `_CONTENTION_RETRY_S`, the driver's default: the server is up and answering, so
        this is contention, not an outage to report fast.
        A retried statement is safe to run again: a read changes nothing, every write is one idempotent
        statement (MERGE), and a retryable failure rolled its transaction back.
        """
        mode = self._neo4j.READ_ACCESS if read_only else self._neo4j.WRITE_ACCESS
        deadline: float | None = None
        attempt = 0
        while True:
            try:
                with self._driver.session(
                    database=self.database,
                    default_access_mode=mode,
                    bookmark_manager=self._driver.execute_query_bookmark_manager,
                ) as session:
                    rows: list[Row] = session.run(cypher, params).data()
                    return rows
            except (self._neo4j.exceptions.DriverError, self._neo4j.exceptions.Neo4jError) as exc:
                busy = isinstance(exc, self._contention_errors)
                if not (busy or exc.is_retryable()):
                    raise
                now = time.monotonic()
                if deadline is None:  # a transient error or a full pool: a busy graph, not a missing one
                    deadline = now + (max(self.retry_s, _CONTENTION_RETRY_S) if busy else self.retry_s)
                if now >= deadline:
                    raise
                pause = min(_FIRST_RETRY_S * 2**attempt, _MAX_RETRY_PAUSE_S) * random.uniform(0.5, 1.5)
                self._pause(min(pause, deadline - now))
                attempt += 1

    def _pause(self, seconds: float) -> None:
        """Sleep between retries (the asyncio store awaits instead)."""
        time.sleep(seconds)

    def read(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        return self._run(cypher, params, read_only=True)

    def write(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        return self._run(cypher, params, read_only=False)

    def vector_dimensions(self) -> dict[str, int]:
        dims: dict[str, int] = {}
        for row in self.read(SHOW_VECTOR_INDEXES):
            config = (row.get("options") or {}).get("indexConfig") or {}
            if "vector.dimensions" in config and row.get("labels"):
                dims[row["labels"][0]] = int(config["vector.dimensions"])
        return dims

    def _apply_schema(self, schema: GraphSchema, dims: int) -> SchemaReport:
        version = self._require_version()
        report = SchemaReport()
        self._drop_stale_fulltext(schema)
        before = {r["name"] for r in self.read(SHOW_SCHEMA_NAMES)}
        exact = version >= self.dialect.EXACT_VECTORS_OPTION_SINCE
        for ddl in self.dialect.schema_ddl(schema, dims, exact_vectors_option=exact):
            self.write(ddl.statement)
        after = {r["name"] for r in self.read(SHOW_SCHEMA_NAMES)}
        if after - before:
            self.read(AWAIT_INDEXES)
        report.created = sorted(after - before)
        report.existing = len(before)
        return report

    def rebuild_vector_index(self, node_label: str, dims: int, timeout_s: float = 600.0) -> bool:
        """Drop the label's vector index and create it again under the same name, then wait until it is ONLINE.

        Neo4j 5.26 keeps a vector index as Lucene segments, one more for every committed transaction that wrote
        a vector, and merges them only once `internal.dbms.index.vector.standard_merge_factor` (50 by default)
        segments of one size have piled up; a query searches each segment's HNSW graph in turn, so an index
        written fact by fact answers many times slower than the same vectors in one segment. A new index is
        populated in bulk into few segments. Neo4j allows one vector index per label and property, so queries
        on the label find no index until the new one is ONLINE (`IndexUnavailableError`).
        """
        index = next(v for v in SCHEMA.vectors if v.label == node_label)
        exact = self._require_version() >= self.dialect.EXACT_VECTORS_OPTION_SINCE
        ddl = next(
            d
            for d in self.dialect.schema_ddl(SCHEMA, dims, exact_vectors_option=exact)
            if d.kind == "vector" and d.label == node_label
        )
        self.write(drop_index(index.name))
        self.write(ddl.statement)
        self.read(AWAIT_INDEX, {"name": index.name, "timeout": int(timeout_s)})
        return True

    def _drop_stale_fulltext(self, schema: GraphSchema) -> None:
        """Drop the schema's full-text indexes built with another analyzer, so the DDL rebuilds them.

        Indexes made before the analyzer was set used Neo4j's default (no stemming): their matches would differ
        from FalkorDB's stemmed ones and from the Porter stems BM25 scores with. Neo4j rebuilds a new full-text
        index from the stored nodes (the DDL then waits for it).
        """
        wanted = {f.name for f in schema.fulltext}
        for row in self.read(SHOW_FULLTEXT_INDEXES):
            if row["name"] in wanted and row.get("analyzer") != self.dialect.FULLTEXT_ANALYZER:
                self.write(drop_index(row["name"]))

    def _require_version(self) -> tuple[int, ...]:
        """The kernel's (major, minor); refuses a server without vector indexes (before 5.13) with a clear error
        instead of a DDL failure."""
        for row in self.read(VERSION):
            numbers = tuple(int(n) for n in re.findall(r"\d+", row["versions"][0])[:2])
            if row["name"] != "Neo4j Kernel":
                continue
            if numbers < MIN_VERSION:
                raise SchemaError(
                    f"Neo4j {row['versions'][0]} is too old: this project needs Neo4j 5.13 or newer (vector "
                    f"indexes). Upgrade the server behind MEMORY_GRAPH_URI."
                )
            return numbers
        return MIN_VERSION

    def server_version(self) -> str:
        rows = self.read(VERSION)
        return ", ".join(f"{r['name']} {r['versions'][0]} ({r['edition']})" for r in rows)

    def drop_all(self) -> None:
        while self.write(DELETE_BATCH)[0]["deleted"]:
            pass
        for row in self.read(SHOW_CONSTRAINT_NAMES):
            self.write(drop_constraint(row["name"]))
        for row in self.read(SHOW_SCHEMA_NAMES):
            if not row.get("owningConstraint"):
                self.write(drop_index(row["name"]))

    def close(self) -> None:
        self._driver.close()
