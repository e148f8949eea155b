"""Salience decay through a moment (the `salience_decay` asset).

Turn, Entity and Fact salience is multiplied by (1 - decay_rate) ^ days since the node was last accessed or
last decayed (fractional days), clamped to [0, 1]; Turn salience is mirrored into Postgres
conversation_logs.salience. Nodes without a salience are left alone. `decayed_at` on each node makes a
re-run for the same moment change nothing.
"""

from dataclasses import dataclass, field
from datetime import datetime

from memory_runtime.domain.models import to_ms
from memory_runtime.retrieval import access
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import lifecycle as q
from memory_runtime.stores.postgres import turn_log

BATCH = 5000
PLURAL = {"Turn": "turns", "Entity": "entities", "Fact": "facts"}


HISTOGRAM_BINS = 10  # salience histograms: [0, 0.1), [0.1, 0.2), ..., [0.9, 1.0]


def _bin(value: float) -> int:
    return min(HISTOGRAM_BINS - 1, max(0, int(value * HISTOGRAM_BINS)))


@dataclass(frozen=True)
class LabelDecay:
    """Nodes of one label decayed, with their mean salience before and after (None when none), and how many
    of them fell in each tenth of [0, 1] before and after."""

    label: str
    decayed: int
    mean_before: float | None
    mean_after: float | None
    histogram_before: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_BINS)
    histogram_after: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_BINS)


@dataclass(frozen=True)
class DecayReport:
    """Decay per label, Turn rows mirrored into Postgres, and access statistics flushed first."""

    labels: list[LabelDecay]
    postgres_turns_updated: int
    access_stats_flushed: int


def decay_salience(stores: Stores, as_of: datetime, rate: float, batch: int = BATCH) -> DecayReport:
    """Decay every node not yet decayed through `as_of` by `rate` per day; mirror Turn salience to Postgres."""
    graph = stores.graph
    as_of_ms = to_ms(as_of)
    flushed = access.flush_all(stores)  # buffered last_accessed stamps must be in the graph before decaying
    labels: list[LabelDecay] = []
    pg_updated = 0
    for node_label in q.DECAY_LABELS:
        statement = q.decay_batch(graph.dialect, node_label=node_label)
        n, before, after = 0, 0.0, 0.0
        hist_before, hist_after = [0] * HISTOGRAM_BINS, [0] * HISTOGRAM_BINS
        while True:
            rows = graph.write(statement, {"as_of": as_of_ms, "keep": 1.0 - rate, "batch": batch})
            n += len(rows)
            before += sum(float(r["before"]) for r in rows)
            after += sum(float(r["salience"]) for r in rows)
            for r in rows:
                hist_before[_bin(float(r["before"]))] += 1
                hist_after[_bin(float(r["salience"]))] += 1
            if node_label == "Turn" and rows:
                pg_updated += turn_log.mirror_turn_salience(
                    stores.pg, [r["id"] for r in rows], [float(r["salience"]) for r in rows]
                )
            if len(rows) < batch:
                break
        labels.append(
            LabelDecay(node_label, n, before / n if n else None, after / n if n else None, hist_before, hist_after)
        )
    return DecayReport(labels, pg_updated, flushed)
