"""Strategies mined from tool use (the `procedural_strategies` asset).

For every user who called tools in the window, each tool sequence shared by at least `MIN_SUPPORT`
conversations of a task type becomes a Strategy (source 'mined') with success/failure counts recomputed
from tool_invocations over the user's whole history, linked to its TaskType (FOR_TASK) and Tools
(USED_TOOL). Idempotent: totals are overwritten, never incremented.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from memory_runtime.domain import ids
from memory_runtime.domain.embedding_text import strategy_text
from memory_runtime.domain.models import now, to_ms
from memory_runtime.memory import context_cache
from memory_runtime.memory.procedural import strategy_id, task_type_id
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import patterns as q
from memory_runtime.stores.postgres import tools as pg_tools

MIN_SUPPORT = 2  # conversations that must share a tool sequence before it is a strategy
DEFAULT_TASK_TYPE = "general"


@dataclass(frozen=True)
class MinedStrategy:
    """One mined strategy as written."""

    user_id: str
    task_type: str
    tool_sequence: list[str]
    successes: int
    failures: int


@dataclass(frozen=True)
class PatternReport:
    """Strategies written (and how many changed), and each mined strategy."""

    strategies: int
    changed: int
    mined: list[MinedStrategy]

    @property
    def users(self) -> int:
        """Users with a mined strategy."""
        return len({m.user_id for m in self.mined})

    @property
    def successes(self) -> int:
        """Successful conversations behind the mined strategies."""
        return sum(m.successes for m in self.mined)

    @property
    def failures(self) -> int:
        """Failed conversations behind the mined strategies."""
        return sum(m.failures for m in self.mined)


def strategy_description(tools: list[str]) -> str:
    """The description of a mined strategy: 'Use a → b → c'."""
    return "Use " + " → ".join(tools)


def mine_strategies(stores: Stores, start: datetime, end: datetime) -> PatternReport:
    """Recompute the mined strategies of the users who called tools in [start, end)."""
    patterns = pg_tools.tool_sequence_patterns(stores.pg, start, end, MIN_SUPPORT, DEFAULT_TASK_TYPE)
    rows: list[dict[str, Any]] = []
    for p in patterns:
        task_type = p["task_type"][:256]
        tools = list(p["tools"])
        description = strategy_description(tools)
        rows.append(
            {
                "id": strategy_id(p["user_id"], task_type, description),
                "user_id": p["user_id"],
                "description": description,
                "norm_description": ids.normalize_name(description),
                "task_type_id": task_type_id(p["user_id"], task_type),
                "task_type": task_type,
                "norm_task_type": ids.normalize_name(task_type),
                "tool_sequence": tools,
                "tool_ids": [ids.tool_id(p["user_id"], t) for t in dict.fromkeys(tools)],
                "successes": int(p["successes"]),
                "failures": int(p["failures"]),
                "support": int(p["support"]),
                "text": strategy_text(task_type, description),
            }
        )
    written = changed = 0
    if rows:
        vectors = stores.embedder.embed([r.pop("text") for r in rows])
        for r, vec in zip(rows, vectors, strict=True):
            r["embedding"] = [float(x) for x in vec]
        graph = stores.graph
        result = graph.write(q.upsert_mined_strategies(graph.dialect), {"rows": rows, "now": to_ms(now())})
        written, changed = int(result[0]["strategies"]), int(result[0]["changed"] or 0)
        for user_id in dict.fromkeys(r["user_id"] for r in rows):
            context_cache.changed(stores, user_id)
    mined = [
        MinedStrategy(r["user_id"], r["task_type"], r["tool_sequence"], r["successes"], r["failures"]) for r in rows
    ]
    return PatternReport(written, changed, mined)
