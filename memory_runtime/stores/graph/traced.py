"""Traced graph statements: every statement a backend runs (`_run`) is one client span while tracing is on.

The span is named `read <function>` or `write <function>` after the function that ran the statement (the
retrieval strategy, repository or batch step), and carries the backend (`db.system.name`: falkordb or neo4j),
the graph or database (`db.namespace`), the statement's first clause and the rows returned; never the
parameters or the Cypher text. Both the sync and the asyncio stores run `_run` in the calling code (the
bridge greenlet for AsyncAgentMemory), so one decorator covers all four.
"""

import functools
import re
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from memory_runtime import tracing

_P = ParamSpec("_P")
_Rows = TypeVar("_Rows", bound=list[Any])

_PLUMBING = frozenset(
    {
        __name__,
        "memory_runtime.tracing",
        "memory_runtime.stores.bridge",
        "memory_runtime.stores.graph.falkordb",
        "memory_runtime.stores.graph.neo4j",
        "memory_runtime.stores.graph.async_falkordb",
        "memory_runtime.stores.graph.async_neo4j",
    }
)
_CLAUSE = re.compile(r"^\s*(?:CYPHER\s+\S+\s+)?([A-Za-z]+(?:\s+[A-Za-z_][\w.]*)?)")


def _clause(cypher: str) -> str:
    """The statement's first clause ('MATCH', 'UNWIND', 'CALL db.idx.vector.queryNodes')."""
    found = _CLAUSE.match(cypher)
    if not found:
        return ""
    words = found.group(1).split()
    return " ".join(words) if words[0].upper() == "CALL" else words[0].upper()


def statement(run: Callable[_P, _Rows]) -> Callable[_P, _Rows]:
    """Decorate a backend's `_run(self, cypher, params, read_only)` to make each statement a client span."""

    @functools.wraps(run)
    def traced_run(*args: _P.args, **kwargs: _P.kwargs) -> _Rows:
        if not tracing.enabled():
            return run(*args, **kwargs)
        store, cypher = args[0], str(args[1])
        read_only = bool(kwargs["read_only"] if "read_only" in kwargs else args[3])
        system = str(getattr(store, "backend", "graph"))
        operation = "read" if read_only else "write"
        function = tracing.caller(_PLUMBING)
        name = f"{operation} {function.rpartition('.')[2] or system}"
        attributes: dict[str, tracing.AttributeValue] = {
            "db.system.name": system,
            "db.system": system,
            "db.namespace": str(getattr(store, "graph_name", None) or getattr(store, "database", None) or ""),
            "db.operation.name": operation,
            "db.query.summary": name,
            "memory.cypher.clause": _clause(cypher),
            "code.function.name": function,
        }
        with tracing.span(name, attributes, client=True) as current:
            rows = run(*args, **kwargs)
            if current is not None:
                current.set_attribute("db.response.returned_rows", len(rows))
            return rows

    return traced_run
