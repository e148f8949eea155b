"""Reads for people looking at memory (the memory browser): listings the agent-facing API has no need for.

Users of a namespace with their counts, a user's conversations and pages of their turns, where a turn sits in
its conversation, pages of facts (current, all, or as believed at a moment) and of entities, an entity's
neighbourhood with the relations among its members, and every goal and strategy of a user. Each read is
scoped to one user (or to the users whose id starts with a namespace prefix); an id of another user is
unknown (`NotFoundError`). Everything here only reads.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from memory_runtime.domain.errors import NotFoundError
from memory_runtime.domain.models import Entity, Goal, Neighbour, StrategyMatch, from_ms, now, to_ms
from memory_runtime.memory import goals as goal_memory
from memory_runtime.memory import procedural
from memory_runtime.memory.semantic import SemanticMemory, _entity_row, _fact_row
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import browse as q
from memory_runtime.stores.graph.queries import goals as goal_queries
from memory_runtime.stores.graph.queries import procedural as procedural_queries
from memory_runtime.stores.postgres import conversations as pg

T = TypeVar("T")
MAX_PAGE = 500
MAX_STRATEGIES = 1000


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a longer list: its items, the total, and where it starts."""

    items: list[T]
    total: int
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        """The offset of the next page, None on the last one."""
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    @property
    def previous_offset(self) -> int | None:
        """The offset of the previous page, None on the first one."""
        return max(0, self.offset - self.limit) if self.offset > 0 else None


@dataclass(frozen=True)
class UserSummary:
    """What is stored for one user, counted per kind, and when they were last active."""

    user_id: str
    conversations: int = 0
    turns: int = 0
    archived_turns: int = 0
    facts: int = 0
    entities: int = 0
    goals: int = 0
    strategies: int = 0
    tool_calls: int = 0
    last_activity: datetime | None = None

    @property
    def empty(self) -> bool:
        """True when nothing at all is stored for the user."""
        return not (self.conversations or self.turns or self.facts or self.entities or self.goals or self.strategies)


@dataclass(frozen=True)
class TurnLocation:
    """Where a turn is: its stored id, its conversation and its rank (0-based) among that conversation's turns."""

    turn_id: str
    conversation_id: str
    turn_index: int
    rank: int


@dataclass(frozen=True)
class FactPage(Page[dict[str, Any]]):
    """A page of facts, with the span of validity of all the facts the filter keeps."""

    first_valid_at: datetime | None = None
    last_change: datetime | None = None


@dataclass(frozen=True)
class Neighbourhood:
    """An entity, the entities within `depth` relations of it, and the relations among all of them."""

    entity: Entity
    depth: int
    neighbours: list[Neighbour]
    edges: list[dict[str, str]] = field(default_factory=list)


def _bounds(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(int(limit), MAX_PAGE)), max(0, int(offset))


# ---- users ----------------------------------------------------------------------------------------------


def _summaries(stores: Stores, rows: list[dict[str, Any]]) -> list[UserSummary]:
    user_ids = [r["user_id"] for r in rows]
    turns = pg.turn_totals(stores.pg, user_ids)
    tools = pg.tool_call_totals(stores.pg, user_ids)
    graph = stores.graph
    counts: dict[str, dict[str, int]] = {u: {} for u in user_ids}
    if user_ids:
        for node_label in q.COUNTED_LABELS:
            for r in graph.read(q.count_per_user(graph.dialect, node_label=node_label), {"user_ids": user_ids}):
                counts[r["user_id"]][node_label] = int(r["n"])
    out = []
    for r in rows:
        uid, t = r["user_id"], turns.get(r["user_id"], {})
        c = counts[uid]
        out.append(
            UserSummary(
                user_id=uid,
                conversations=int(r.get("conversations") or 0),
                turns=int(t.get("turns") or 0),
                archived_turns=int(t.get("archived_turns") or 0),
                facts=c.get("Fact", 0),
                entities=c.get("Entity", 0),
                goals=c.get("Goal", 0),
                strategies=c.get("Strategy", 0),
                tool_calls=tools.get(uid, 0),
                last_activity=t.get("last_turn_at") or r.get("last_turn_at"),
            )
        )
    return out


def users(
    stores: Stores, prefix: str, search: str | None = None, limit: int = 50, offset: int = 0
) -> Page[UserSummary]:
    """The users whose id starts with `prefix` (and whose rest contains `search`), latest activity first."""
    limit, offset = _bounds(limit, offset)
    rows = pg.users_page(stores.pg, prefix, search, limit, offset)
    return Page(_summaries(stores, rows), pg.count_users(stores.pg, prefix, search), offset, limit)


def user_summary(stores: Stores, user_id: str) -> UserSummary:
    """The counts of one user; NotFoundError when nothing at all is stored for them."""
    conversations = pg.count_conversations(stores.pg, user_id)
    [summary] = _summaries(stores, [{"user_id": user_id, "conversations": conversations}])
    if summary.empty:
        raise NotFoundError(f"no user {user_id!r}")
    return summary


# ---- conversations and turns ----------------------------------------------------------------------------


def conversations(stores: Stores, user_id: str, limit: int = 20, offset: int = 0) -> Page[dict[str, Any]]:
    """A user's conversations, latest first, each with its number of turns."""
    limit, offset = _bounds(limit, offset)
    rows = pg.conversations_page(stores.pg, user_id, limit, offset)
    return Page(rows, pg.count_conversations(stores.pg, user_id), offset, limit)


def conversation(stores: Stores, user_id: str, conversation_id: str) -> dict[str, Any]:
    """One of the user's conversations (id, title, started_at, last_turn_at, turns); NotFoundError otherwise."""
    row = pg.conversation(stores.pg, user_id, conversation_id)
    if row is None:
        raise NotFoundError(f"no conversation {conversation_id!r} for user {user_id!r}")
    return row


def conversation_turns(
    stores: Stores, user_id: str, conversation_id: str, limit: int = 50, offset: int = 0
) -> Page[dict[str, Any]]:
    """A page of one of the user's conversations, in turn order (NotFoundError for an unknown conversation)."""
    limit, offset = _bounds(limit, offset)
    total = int(conversation(stores, user_id, conversation_id)["turns"])
    return Page(pg.conversation_turns(stores.pg, user_id, conversation_id, limit, offset), total, offset, limit)


def locate_turn(stores: Stores, user_id: str, turn_id: str) -> TurnLocation:
    """Where one of the user's turns (stored id or caller id) is; NotFoundError otherwise."""
    row = pg.turn_rank(stores.pg, user_id, turn_id)
    if row is None:
        raise NotFoundError(f"no turn {turn_id!r} for user {user_id!r}")
    return TurnLocation(row["id"], row["conversation_id"], int(row["turn_index"]), int(row["rank"]))


# ---- facts and entities ---------------------------------------------------------------------------------


def facts(
    stores: Stores,
    user_id: str,
    *,
    as_of: datetime | None = None,
    include_invalid: bool = True,
    limit: int = 50,
    offset: int = 0,
) -> FactPage:
    """A page of the user's facts, latest valid_at first: those valid at `as_of`, else all (or current ones)."""
    limit, offset = _bounds(limit, offset)
    graph = stores.graph
    params = {
        "user_id": user_id,
        "as_of": to_ms(as_of),
        "include_invalid": bool(include_invalid),
        "now": to_ms(now()),
    }
    rows = graph.read(q.fact_page(graph.dialect), {**params, "skip": offset, "limit": limit})
    [totals] = graph.read(q.fact_totals(graph.dialect), params)
    return FactPage(
        [_fact_row(r) for r in rows],
        int(totals["n"]),
        offset,
        limit,
        first_valid_at=from_ms(totals["first_valid_at"]),
        last_change=from_ms(totals["last_change"]),
    )


def fact(stores: Stores, user_id: str, fact_id: str) -> dict[str, Any]:
    """One of the user's facts with its provenance and validity; NotFoundError otherwise."""
    return SemanticMemory(stores, user_id).get_fact(fact_id)


def entities(stores: Stores, user_id: str, limit: int = 50, offset: int = 0) -> Page[dict[str, Any]]:
    """A page of the user's entities, most salient first."""
    limit, offset = _bounds(limit, offset)
    graph = stores.graph
    rows = graph.read(q.entity_page(graph.dialect), {"user_id": user_id, "skip": offset, "limit": limit})
    [count] = graph.read(q.count_per_user(graph.dialect, node_label="Entity"), {"user_ids": [user_id]}) or [{"n": 0}]
    return Page([_entity_row(r) for r in rows], int(count["n"]), offset, limit)


def neighbourhood(stores: Stores, user_id: str, entity_id: str, depth: int = 1) -> Neighbourhood:
    """An entity with its neighbours within `depth` (1 or 2) and the relations among them."""
    semantic = SemanticMemory(stores, user_id)
    found = semantic.get_entity_graph(entity_id, depth)
    ids = [entity_id, *(n["id"] for n in found.neighbours)]
    graph = stores.graph
    edges = graph.read(q.entity_edges(graph.dialect), {"user_id": user_id, "ids": ids})
    return Neighbourhood(found.entity, depth, found.neighbours, [dict(e) for e in edges])


def fact_span(stores: Stores, user_id: str) -> tuple[datetime | None, datetime | None]:
    """When the user's earliest fact became valid and the latest moment any fact began or stopped being true."""
    graph = stores.graph
    params = {"user_id": user_id, "as_of": None, "include_invalid": True, "now": to_ms(now())}
    [totals] = graph.read(q.fact_totals(graph.dialect), params)
    return from_ms(totals["first_valid_at"]), from_ms(totals["last_change"])


def facts_about(stores: Stores, user_id: str, entity_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """Every fact ABOUT one of the user's entities, current or not, latest first."""
    return SemanticMemory(stores, user_id).facts_about(entity_id, include_invalid=True, limit=limit)


# ---- goals and strategies -------------------------------------------------------------------------------


def goals(stores: Stores, user_id: str) -> list[Goal]:
    """Every goal of the user, open ones first (by status), each status by priority."""
    graph = stores.graph
    params = {"user_id": user_id, "open": list(goal_memory.OPEN_STATUSES)}
    out: list[Goal] = []
    order = [*goal_memory.OPEN_STATUSES, *(s for s in goal_memory.STATUSES if s not in goal_memory.OPEN_STATUSES)]
    for status in order:
        rows = graph.read(goal_queries.goals_by_status(graph.dialect), {**params, "status": status})
        out += [goal_memory._goal_row(r) for r in rows]
    return out


def strategies(stores: Stores, user_id: str, limit: int = MAX_STRATEGIES) -> list[StrategyMatch]:
    """The user's strategies, best success rate first."""
    graph = stores.graph
    rows = graph.read(procedural_queries.user_strategies(graph.dialect), {"user_id": user_id, "limit": int(limit)})
    found = [StrategyMatch(**procedural._strategy_row(r)) for r in rows]
    return sorted(found, key=lambda s: (-s.success_rate, -(s.success_count + s.failure_count), s.id))
