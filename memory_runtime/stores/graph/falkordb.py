"""FalkorDB backend: a Redis server with the FalkorDB module (the embedded default)."""

import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis
from falkordb.helpers import stringify_param_value
from falkordb.query_result import QueryResult
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from memory_runtime.domain.errors import GraphQueryError, StoreUnavailableError, ValidationError
from memory_runtime.stores.graph import traced
from memory_runtime.stores.graph.base import GraphStore, Row, SchemaReport, plain
from memory_runtime.stores.graph.cypher import ident
from memory_runtime.stores.graph.dialect import FalkorDialect
from memory_runtime.stores.graph.schema import SCHEMA, GraphSchema

log = logging.getLogger(__name__)
_SETTING = "MEMORY_GRAPH_URI"


def _redis_url(uri: str) -> str:
    """Translate falkor://, falkors://, falkor+unix:// into the redis-py URL forms."""
    parts = urlsplit(uri)
    if parts.scheme == "falkor+unix":
        return "unix://" + uri[len("falkor+unix://") :]
    if parts.scheme == "falkors":
        return "rediss://" + uri[len("falkors://") :]
    return "redis://" + uri[len("falkor://") :]


def pool_options(connect_timeout_s: float, max_connections: int) -> dict[str, Any]:
    """Connection pool settings of the sync and the asyncio client (replies decoded, as the client expects)."""
    return {
        "max_connections": max_connections,
        "timeout": connect_timeout_s,
        "socket_connect_timeout": connect_timeout_s,
        "decode_responses": True,
    }


def server_url(uri: str, graph_name: str) -> tuple[str, str]:
    """The redis-py URL of a graph URI and the graph's name (`falkor+unix:///path?graph=name` overrides
    MEMORY_GRAPH_NAME)."""
    url = _redis_url(uri)
    query = parse_qs(urlsplit(url).query)
    return url.split("?")[0], query["graph"][0] if "graph" in query else graph_name


def _has_nul(value: Any) -> bool:
    """True if a string anywhere in the parameters contains U+0000."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _row_value(value: Any) -> Any:
    """Result values as plain dicts/lists (FalkorDB returns OrderedDicts). Exact type checks: this runs for
    every value of every row, and an ABC isinstance check costs several times more."""
    kind = type(value)
    if kind is list:
        return [_row_value(v) for v in value]
    if kind is OrderedDict or kind is dict:
        return {k: _row_value(v) for k, v in value.items()}
    return value


class _Unparsed(Exception):
    """A compact result value the fast path does not decode (node, edge, path, point, temporal, vector)."""


def _cell(cell: list[Any]) -> Any:
    """One value of FalkorDB's compact result format ([type, value]) as a plain Python value."""
    kind, value = cell
    if kind == 2 or kind == 3:  # string, integer (RESP already decoded them)
        return value
    if kind == 1:  # null
        return None
    if kind == 10:  # map: [key, cell, key, cell, ...]
        return {value[i]: _cell(value[i + 1]) for i in range(0, len(value), 2)}
    if kind == 6:  # array
        return [_cell(v) for v in value]
    if kind == 5:  # double, sent as text
        return float(value)
    if kind == 4:  # boolean, sent as text
        return value == "true"
    raise _Unparsed(kind)


def _fast_rows(response: list[Any]) -> list[Row] | None:
    """Rows of a compact GRAPH.QUERY reply ([header, rows, statistics], or [statistics] without a RETURN),
    decoded directly: the client's general parser dispatches every value through several calls and was the
    largest single CPU cost of a remember(). None when the reply holds an error or a value only the client
    decodes."""
    if any(isinstance(part, redis.ResponseError) for part in (response[0], response[-1])):
        return None
    if len(response) == 1:
        return []
    names = [h[1] for h in response[0]]
    try:
        return [{n: _cell(c) for n, c in zip(names, row, strict=True)} for row in response[1]]
    except _Unparsed:
        return None


def _quote(text: str) -> str:
    """A Cypher string literal, escaped as the client's `quote_string` does."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(value: Any) -> str:
    """A parameter value as the Cypher literal the client's `stringify_param_value` writes, several times faster.

    Exact type checks and one join per list of floats: a batch of 500 turns carries 192,000 vector components,
    and formatting them value by value (after `plain` had copied every list) was two thirds of the projection's
    time. Anything else (numpy values, other mappings, bytes) goes through the client's formatter.
    """
    kind = type(value)
    if kind is str:
        return _quote(value)
    if kind is float or kind is int or kind is bool:
        return str(value)
    if value is None:
        return "null"
    if kind is list or kind is tuple:
        if all(type(x) is float for x in value):
            return "[" + ",".join(map(repr, value)) + "]"
        return "[" + ",".join(map(_literal, value)) + "]"
    if kind is dict:
        parts = []
        for key, item in value.items():
            if type(key) is not str or not key or "`" in key:
                return str(stringify_param_value(plain(value)))  # the client's own checks and errors
            parts.append(f"`{key}`:{_literal(item)}")
        return "{" + ",".join(parts) + "}"
    return str(stringify_param_value(plain(value)))


def _params_header(params: Mapping[str, Any]) -> str:
    """The `CYPHER name=value ...` prefix that carries the parameters (`_literal`; float vectors are finite:
    validated on write, and query vectors come from the embedder). Names are this code's own identifiers."""
    return "CYPHER " + " ".join(f"`{key}`={_literal(value)}" for key, value in params.items()) + " "


class _Encoded(dict[str, Any]):
    """Parameters with their `CYPHER ...` header already written (`FalkorGraphStore.encode`)."""

    header: str


class FalkorGraphStore(GraphStore):
    """GraphStore over one FalkorDB graph key."""

    serializes_writes = True

    backend = "falkordb"

    def __init__(self, uri: str, graph_name: str, *, connect_timeout_s: float = 5.0, max_connections: int = 16):
        from falkordb import FalkorDB

        self.dialect = FalkorDialect()
        url, self.graph_name = server_url(uri, graph_name)
        self._pool = redis.BlockingConnectionPool.from_url(
            url,
            **pool_options(connect_timeout_s, max_connections),
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        )
        try:  # the client talks to the server while it is constructed
            self._db = FalkorDB(connection_pool=self._pool)
        except (redis.ConnectionError, redis.TimeoutError, redis.AuthenticationError) as exc:
            self._pool.disconnect()
            raise StoreUnavailableError("FalkorDB", _SETTING, str(exc) or type(exc).__name__) from exc
        self._connection: Any = self._db.connection
        self._graph: Any = self._db.select_graph(self.graph_name)

    @traced.statement
    def _run(self, cypher: str, params: Mapping[str, Any] | None, read_only: bool) -> list[Row]:
        try:
            graph = self._graph
            header = params.header if type(params) is _Encoded else _params_header(params) if params else ""
            command = "GRAPH.RO_QUERY" if read_only else "GRAPH.QUERY"
            response = graph.execute_command(command, graph.name, header + cypher, "--compact")
            rows = _fast_rows(response)
            if rows is None:  # an error, or nodes, edges and other values only the client's parser knows
                result = self._decoded(response)
                names = [h[1] for h in result.header]
                rows = [{n: _row_value(v) for n, v in zip(names, row, strict=True)} for row in result.result_set]
        except (redis.ConnectionError, redis.TimeoutError, redis.AuthenticationError) as exc:
            raise StoreUnavailableError("FalkorDB", _SETTING, str(exc) or type(exc).__name__) from exc
        except UnicodeEncodeError as exc:  # lone surrogates fail while packing the command: nothing was sent
            raise ValidationError(f"a graph query parameter is not valid Unicode text: {exc}") from None
        except redis.ResponseError as exc:
            if _has_nul(params):  # FalkorDB reads the query as a C string: a NUL cuts it short
                raise ValidationError(
                    "FalkorDB cannot store text containing NUL (U+0000) characters; nothing was written"
                ) from None
            raise GraphQueryError(str(exc), cypher) from exc
        return rows

    def _decoded(self, response: list[Any]) -> QueryResult:
        """A reply decoded by the client's general parser (which may ask the server for the graph's schema)."""
        return QueryResult(self._graph, response)

    def encode(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        # Formatting the header is the client's part of a batch projection (a 1000-turn batch carries 384,000
        # vector components): encoded on the thread that commits a batch, it overlaps the previous batch's
        # server time instead of adding to it.
        encoded = _Encoded(params)
        encoded.header = _params_header(params) if params else ""
        return encoded

    def read(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        return self._run(cypher, params, read_only=True)

    def write(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        return self._run(cypher, params, read_only=False)

    def _graph_exists(self) -> bool:
        """Whether the graph key exists, asked of Redis itself rather than of the graph module.

        Reading a graph that does not exist yet is avoided on purpose. On FalkorDB 4.16.3 a fresh server read
        that way and then asked to create the graph can stop answering for good: the reader count of the
        module's global graph lock underflows, so the creation waits for it forever (a CI failure). Three
        reads then a create hung 10 times in 1,000 runs under CPU load; creating first, none in 4,000.
        """
        try:
            return bool(self._connection.exists(self.graph_name))
        except (redis.ConnectionError, redis.TimeoutError, redis.AuthenticationError) as exc:
            raise StoreUnavailableError("FalkorDB", _SETTING, str(exc) or type(exc).__name__) from exc

    def _indexes(self) -> list[Row]:
        return self._read_indexes() if self._graph_exists() else []

    def _read_indexes(self) -> list[Row]:
        try:
            return self.read("CALL db.indexes()")
        except GraphQueryError:  # the graph was deleted meanwhile
            return []

    def vector_dimensions(self) -> dict[str, int]:
        dims: dict[str, int] = {}
        for row in self._indexes():
            for prop, types in (row.get("types") or {}).items():
                if "VECTOR" in types:
                    dims[row["label"]] = int(row["options"][prop]["dimension"])
        return dims

    def _existing(self) -> set[tuple[str, str, str]]:
        have: set[tuple[str, str, str]] = set()
        if not self._graph_exists():  # nothing exists yet, and the graph must not be read first
            return have
        for row in self._read_indexes():
            for prop, types in (row.get("types") or {}).items():
                for t in types:
                    have.add((t.lower(), row["label"], prop))
        try:
            for row in self.read("CALL db.constraints()"):
                if row["type"] == "UNIQUE":
                    have.add(("unique", row["label"], ",".join(row["properties"])))
        except GraphQueryError:
            pass
        return have

    def _apply_schema(self, schema: GraphSchema, dims: int) -> SchemaReport:
        report = SchemaReport()
        have = self._existing()
        pending: list[str] = []
        for ddl in self.dialect.schema_ddl(schema, dims):
            key_props = ",".join(ddl.props) if ddl.kind == "unique" else None
            exists = (
                ("unique", ddl.label, key_props) in have
                if ddl.kind == "unique"
                else all((ddl.kind, ddl.label, p) in have for p in ddl.props)
            )
            if exists:
                report.existing += 1
                continue
            if ddl.kind == "unique":
                try:
                    self._connection.execute_command(
                        "GRAPH.CONSTRAINT", "CREATE", self.graph_name, *ddl.statement.split()
                    )
                except redis.ResponseError as exc:
                    if "already exists" not in str(exc):
                        raise GraphQueryError(str(exc), ddl.statement) from exc
                pending.append(ddl.label)
            else:
                try:
                    self.write(ddl.statement)
                except GraphQueryError as exc:
                    if "already indexed" not in str(exc):
                        raise
            report.created.append(ddl.statement)
            have.update((ddl.kind, ddl.label, p) for p in ddl.props)
        self._await_constraints(pending)
        return report

    def _await_constraints(self, labels: list[str], timeout_s: float = 30.0) -> None:
        """Unique constraints build asynchronously; wait until none is PENDING."""
        deadline = time.monotonic() + timeout_s
        while labels and time.monotonic() < deadline:
            rows = self.read("CALL db.constraints()")
            if all(r["status"] == "OPERATIONAL" for r in rows if r["label"] in labels):
                return
            failed = [r for r in rows if r["status"] == "FAILED"]
            if failed:
                raise GraphQueryError(f"unique constraint failed to build: {failed}", "GRAPH.CONSTRAINT")
            time.sleep(0.02)

    def rebuild_vector_index(self, node_label: str, dims: int, timeout_s: float = 600.0) -> bool:
        """Drop and re-create the label's vector index, then wait until it is operational.

        FalkorDB 4.16 re-indexes a node on every update (a new document id) without removing its old vector
        from the HNSW graph, and leaves a deleted node's vector behind too. Those orphans take places in a
        k-nearest result and are then discarded, so a query returns fewer than k nodes, and after every node
        was updated a few times (salience decay, access statistics) almost none (fixed upstream in
        FalkorDB/FalkorDB#2197). Rebuilding the index from the live nodes removes them.
        """
        index = next(v for v in SCHEMA.vectors if v.label == node_label)
        ddl = next(d for d in self.dialect.schema_ddl(SCHEMA, dims) if d.kind == "vector" and d.label == node_label)
        try:
            self.write(f"DROP VECTOR INDEX FOR (n:{ident(node_label)}) ON (n.{ident(index.prop)})")
        except GraphQueryError as exc:
            if "no such index" not in str(exc):  # absent (a failed earlier rebuild): create it below
                raise
        self.write(ddl.statement)
        # The label's index is rebuilt in the background, and may still say OPERATIONAL for a moment before
        # it starts: done once it was seen building and is operational again (or stayed so for a second).
        # While it builds, `db.indexes()` lists the label twice (the new index under construction, and the old
        # one, without the vector, still OPERATIONAL), so every entry of the label must be operational.
        began = time.monotonic()
        seen_building = False
        while time.monotonic() < began + timeout_s:
            statuses = [r["status"] for r in self._indexes() if r["label"] == node_label]
            building = any(status != "OPERATIONAL" for status in statuses)
            seen_building = seen_building or building
            if statuses and not building and (seen_building or time.monotonic() > began + 1.0):
                return True
            time.sleep(0.02)
        raise GraphQueryError(f"the vector index on :{node_label} still builds after {timeout_s:.0f} s", ddl.statement)

    def compact(self, timeout_s: float = 600.0) -> bool:
        """Rewrite the server's append-only file (BGREWRITEAOF) and wait for the rewrite to finish.

        A restart replays the append-only file's commands after its base snapshot. Redis rewrites it by itself
        only once it has doubled past 64 MB, so a store that was just bulk-loaded (`agent-memory restore`) would
        replay every write statement of the load on its next start: at 20k turns that took more than ten
        minutes, where loading the rewritten file's snapshot takes seconds. False when the server keeps no
        append-only file or refuses the command (a managed Redis may rename it): nothing to do, or not ours to do.
        """
        conn = self._connection
        try:
            if not int(conn.info("persistence").get("aof_enabled", 0)):
                return False
            conn.bgrewriteaof()  # scheduled, if a rewrite is already running
            deadline = time.monotonic() + timeout_s
            while True:
                info = conn.info("persistence")
                if not int(info.get("aof_rewrite_in_progress", 0)) and not int(info.get("aof_rewrite_scheduled", 0)):
                    break
                if time.monotonic() > deadline:
                    raise GraphQueryError(
                        f"the append-only file rewrite still runs after {timeout_s:.0f} s", "BGREWRITEAOF"
                    )
                time.sleep(0.05)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailableError("FalkorDB", _SETTING, str(exc) or type(exc).__name__) from exc
        except redis.ResponseError as exc:
            log.warning("FalkorDB: the append-only file was not rewritten: %s", exc)
            return False
        if info.get("aof_last_bgrewrite_status") != "ok":
            raise GraphQueryError("the append-only file rewrite failed (see the server's log)", "BGREWRITEAOF")
        return True

    def server_version(self) -> str:
        try:
            modules = self._connection.execute_command("MODULE", "LIST")
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailableError("FalkorDB", _SETTING, str(exc)) from exc
        for mod in modules:  # redis-py returns dicts or flat [key, value, ...] lists depending on the path
            info = mod if isinstance(mod, dict) else dict(zip(mod[::2], mod[1::2], strict=False))
            info = {(k.decode() if isinstance(k, bytes) else k): v for k, v in info.items()}
            name = info.get("name")
            if (name.decode() if isinstance(name, bytes) else name) == "graph":
                ver = int(info["ver"])
                return f"FalkorDB {ver // 10000}.{ver // 100 % 100}.{ver % 100}"
        raise StoreUnavailableError("FalkorDB", _SETTING, "the server has no FalkorDB (graph) module loaded")

    def drop_all(self) -> None:
        if not self._graph_exists():  # never ask the module about a missing graph (see _graph_exists)
            return
        try:
            self._graph.delete()
        except redis.ResponseError:
            pass  # deleted meanwhile

    def close(self) -> None:
        self._pool.disconnect()
