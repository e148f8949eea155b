"""Re-project a window's turns the graph is missing (the `episodic_graph` asset), and compare the two stores.

Agents project turns as they store them; when the graph write failed the turn is still durable in
Postgres (the source of truth) and this puts it into the graph, so afterwards the graph holds every
unarchived turn of the window. The report counts the turns per UTC day in both stores.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from memory_runtime.domain.models import to_ms
from memory_runtime.memory.episodic import reproject
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import projection as q
from memory_runtime.stores.postgres import turn_log

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DayCount:
    """Unarchived turns of one UTC day in each store."""

    day: str
    postgres_turns: int
    graph_turns: int


@dataclass(frozen=True)
class ProjectionReport:
    """Turns checked and re-projected, and the turns per day in Postgres and in the graph afterwards."""

    checked: int
    projected: int
    days: list[DayCount]

    @property
    def postgres_turns(self) -> int:
        """Unarchived turns of the window in Postgres."""
        return sum(d.postgres_turns for d in self.days)

    @property
    def graph_turns(self) -> int:
        """Unarchived Turn nodes of the window in the graph."""
        return sum(d.graph_turns for d in self.days)


def graph_turns_per_day(stores: Stores, start: datetime, end: datetime) -> dict[str, int]:
    """{UTC day 'YYYY-MM-DD': unarchived Turn nodes} of [start, end)."""
    graph = stores.graph
    rows = graph.read(q.turns_per_day(graph.dialect), {"start": to_ms(start), "end": to_ms(end)})
    return {(_EPOCH + timedelta(days=int(r["day"]))).strftime("%Y-%m-%d"): int(r["turns"]) for r in rows}


def project_window(
    stores: Stores, start: datetime, end: datetime, *, progress: Callable[[int], None] | None = None
) -> ProjectionReport:
    """Project the turns of [start, end) the graph is missing; `progress(n)` after each batch of n checked."""
    report = reproject(stores, since=start, until=end, progress=progress)
    pg_days = turn_log.unarchived_turns_per_day(stores.pg, start, end)
    graph_days = graph_turns_per_day(stores, start, end)
    days = [DayCount(d, pg_days.get(d, 0), graph_days.get(d, 0)) for d in sorted(set(pg_days) | set(graph_days))]
    return ProjectionReport(report.checked, report.projected, days)
