"""Traced PostgreSQL connections: one client span per statement, or per pipeline of statements.

The pools use these connection classes only while tracing is on (`connection_class()`); otherwise psycopg's own.
A span is named by the statement's summary (`SELECT conversation_logs`) and carries `db.system.name`,
`db.namespace` (the database), `db.operation.name`, `db.collection.name`, the repository function that ran it
(`code.function.name`) and the rows returned or affected; never the parameters.
"""

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import DictRow

from memory_runtime import tracing

SYSTEM = "postgresql"
# Modules between a repository function and the driver: a span names the function that called them.
_PLUMBING = frozenset(
    {
        __name__,
        "memory_runtime.tracing",
        "memory_runtime.stores.bridge",
        "memory_runtime.stores.postgres.pool",
        "memory_runtime.stores.postgres.async_pool",
    }
)
_VERB = re.compile(r"^\s*(?:--[^\n]*\n\s*)*([A-Za-z]+)")
_TARGET = re.compile(
    r"\b(?:FROM|INTO|UPDATE|TABLE|COPY)\s+(?:ONLY\s+|IF\s+NOT\s+EXISTS\s+|IF\s+EXISTS\s+)?([A-Za-z_][\w.]*)",
    re.IGNORECASE,
)
_MAIN = re.compile(r"\)\s*(SELECT|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)  # the statement after a WITH
_WRITING_CTE = re.compile(r"\bAS\s*(?:NOT\s+)?(?:MATERIALIZED\s+)?\(\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


@lru_cache(maxsize=2048)
def summary(text: str) -> tuple[str, str]:
    """(operation, table) of a statement: ('SELECT', 'conversation_logs'). The table may be '' (none found);
    a WITH whose CTEs write is that write, naming every table written in order ('conversations,
    conversation_logs')."""
    verb = _VERB.match(text)
    operation = verb.group(1).upper() if verb else "SQL"
    if operation == "WITH" and (writes := list(_WRITING_CTE.finditer(text))):
        tables = dict.fromkeys(_table(text, w.start(1)) for w in writes)
        return writes[0].group(1).upper(), ", ".join(t for t in tables if t)
    start = 0
    if operation == "WITH" and (main := _MAIN.search(text)):
        operation, start = main.group(1).upper(), main.start(1)
    return operation, _table(text, start)


def _table(text: str, start: int) -> str:
    target = _TARGET.search(text, start)
    return target.group(1) if target and target.group(1).upper() not in {"SELECT", "STDIN", "STDOUT"} else ""


def _text(query: Any, conn: Any) -> str:
    if isinstance(query, str):
        return query
    if isinstance(query, bytes):
        return query.decode(errors="replace")
    if isinstance(query, sql.Composable):
        return query.as_string(conn)
    return str(query)


def _attributes(conn: Any, query: Any) -> tuple[str, dict[str, tracing.AttributeValue]]:
    operation, table = summary(_text(query, conn))
    name = f"{operation} {table}" if table else operation
    attributes: dict[str, tracing.AttributeValue] = {
        "db.system.name": SYSTEM,
        "db.system": SYSTEM,  # the name before semantic conventions 1.26, which many backends still read
        "db.namespace": conn.info.dbname,
        "db.operation.name": operation,
        "db.query.summary": name,
        "code.function.name": tracing.caller(_PLUMBING),
    }
    if table and "," not in table:  # the semantic conventions name a collection only when there is one
        attributes["db.collection.name"] = table
    return name, attributes


def _rows(current: Any, cur: Any) -> None:
    """The rows a statement returned (SELECT, RETURNING) or changed."""
    if cur.rowcount >= 0:
        key = "db.response.returned_rows" if cur.description is not None else "db.response.affected_rows"
        current.set_attribute(key, cur.rowcount)


def _start_batch(conn: Any) -> Any:
    """The span of a pipeline, started where it is opened (its statements are added as they are queued)."""
    return tracing.start_client_span(
        "PIPELINE",
        {
            "db.system.name": SYSTEM,
            "db.system": SYSTEM,
            "db.namespace": conn.info.dbname,
            "db.operation.name": "PIPELINE",
            "code.function.name": tracing.caller(_PLUMBING),
        },
    )


def _end_batch(current: Any, names: list[str], exc: BaseException | None) -> None:
    if current is None:
        return
    current.set_attributes({"db.operation.batch.size": len(names), "db.query.summary": "; ".join(names)})
    if exc is not None:
        tracing.fail(current, exc)
    current.end()


class TracedConnection(psycopg.Connection[DictRow]):
    """A psycopg connection whose statements are client spans; a pipeline is one span for all its statements."""

    _batch: list[str] | None = None  # statement summaries of the open pipeline

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool = False) -> Any:
        if not tracing.enabled():
            return super().execute(query, params, prepare=prepare, binary=binary)
        name, attributes = _attributes(self, query)
        if self._batch is not None:  # queued: its time and rows belong to the pipeline's span
            self._batch.append(name)
            return super().execute(query, params, prepare=prepare, binary=binary)
        with tracing.span(name, attributes, client=True) as current:
            cur = super().execute(query, params, prepare=prepare, binary=binary)
            _rows(current, cur)
            return cur

    @contextmanager
    def pipeline(self) -> Iterator[psycopg.Pipeline]:
        if not tracing.enabled() or self._batch is not None:
            with super().pipeline() as pipe:
                yield pipe
            return
        self._batch = names = list[str]()
        current, failure = _start_batch(self), None
        try:
            with super().pipeline() as pipe:
                yield pipe
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self._batch = None
            _end_batch(current, names, failure)


class TracedAsyncConnection(psycopg.AsyncConnection[DictRow]):
    """The asyncio variant: a span opens where shared code makes the call (in the bridge greenlet, whose context
    holds the caller's span) and closes when the driver's coroutine completes."""

    _batch: list[str] | None = None

    def execute(  # returns the driver's awaitable, wrapped to end the span
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool = False
    ) -> Any:
        if not tracing.enabled():
            return super().execute(query, params, prepare=prepare, binary=binary)
        name, attributes = _attributes(self, query)
        if self._batch is not None:
            self._batch.append(name)
            return super().execute(query, params, prepare=prepare, binary=binary)
        current = tracing.start_client_span(name, attributes)
        return tracing.end_after(current, super().execute(query, params, prepare=prepare, binary=binary), _rows)

    def pipeline(self) -> Any:  # an async context manager: the driver's, or one that also ends the span
        if not tracing.enabled() or self._batch is not None:
            return super().pipeline()
        self._batch = []
        return self._spanned_pipeline(_start_batch(self), self._batch)

    @asynccontextmanager
    async def _spanned_pipeline(self, current: Any, names: list[str]) -> AsyncIterator[psycopg.AsyncPipeline]:
        failure = None
        try:
            async with super().pipeline() as pipe:
                yield pipe
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self._batch = None
            _end_batch(current, names, failure)


def connection_class() -> type[psycopg.Connection[DictRow]]:
    """The class of the sync pool's connections: traced while tracing is on."""
    return TracedConnection if tracing.enabled() else psycopg.Connection


def async_connection_class() -> type[psycopg.AsyncConnection[DictRow]]:
    """The class of the asyncio pool's connections: traced while tracing is on."""
    return TracedAsyncConnection if tracing.enabled() else psycopg.AsyncConnection
