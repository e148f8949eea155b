"""Cypher builders: what the graph holds of the turn log, for the `episodic_graph` projection report."""

from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher


@cypher("projection.turns_per_day")
def turns_per_day(d: Dialect) -> str:
    """Unarchived Turn nodes per UTC day number (epoch ms // 86 400 000) in [$start, $end)."""
    return """
MATCH (t:Turn) WHERE t.timestamp >= $start AND t.timestamp < $end AND coalesce(t.archived, false) = false
RETURN toInteger(t.timestamp / 86400000) AS day, count(t) AS turns
"""
