"""Goals: what a user (or their agent) is working towards, as `Goal` nodes in the graph.

- A sub-goal points at its parent: `(g)-[:SUBGOAL_OF]->(parent)`; the parent must be one of the user's
  goals, checked in the same statement that creates the sub-goal (nothing is written otherwise).
- A blocker is `(g)-[:BLOCKED_BY]->(b)`. Adding one does not change g's status: `status` is what the
  user says (set it to "blocked" explicitly if wanted), and `blocked_by` lists the blockers that are
  still open (active or blocked), so a completed or abandoned blocker stops being reported without
  anyone touching g. A goal cannot block itself, and a blocker that would close a cycle of up to
  `MAX_BLOCKER_CHAIN` goals is refused.
- Completing a goal records `completed_at` (epoch ms in the graph, a UTC datetime in the dicts);
  moving it out of "completed" clears it.

Goals come back as `Goal` models (which also read as dicts): id, description, priority (1–5, 5 = highest),
status, parent_id, blocked_by (ids), deadline, created_at, updated_at, completed_at (datetimes or None).
"""

from typing import Any, get_args

from memory_runtime.domain import ids
from memory_runtime.domain.errors import NotFoundError, ValidationError
from memory_runtime.domain.models import Goal, GoalStatus, from_ms, now, to_ms
from memory_runtime.memory import context_cache
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import goals as q
from memory_runtime.stores.graph.queries.goals import MAX_BLOCKER_CHAIN

STATUSES: tuple[str, ...] = get_args(GoalStatus)
OPEN_STATUSES: tuple[str, ...] = ("active", "blocked")

__all__ = ["MAX_BLOCKER_CHAIN", "OPEN_STATUSES", "STATUSES", "GoalMemory"]


def _goal_id(value: Any, what: str = "goal_id") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{what} must be a non-empty string")
    return value


def _goal_row(row: dict[str, Any]) -> Goal:
    return Goal(
        id=row["id"],
        description=row["description"],
        priority=int(row["priority"]),
        status=row["status"],
        parent_id=row["parent_id"],
        blocked_by=sorted(row["blocked_by"] or []),
        deadline=from_ms(row["deadline"]),
        created_at=from_ms(row["created_at"]),
        updated_at=from_ms(row["updated_at"]),
        completed_at=from_ms(row["completed_at"]),
    )


class GoalMemory:
    """Goals of one user; see the module docstring for the rules."""

    def __init__(self, stores: Stores, user_id: str) -> None:
        self.stores = stores
        self.user_id = user_id

    def _params(self, **extra: Any) -> dict[str, Any]:
        return {"user_id": self.user_id, "open": list(OPEN_STATUSES), "now": to_ms(now()), **extra}

    def add_goal(self, goal: Goal) -> Goal:
        """Create a goal (a sub-goal when `parent_id` is set); returns it as stored, with its new id."""
        if not isinstance(goal, Goal):
            raise ValidationError(f"expected a Goal, got {type(goal).__name__}")
        if goal.id is not None:
            raise ValidationError("add_goal assigns the goal's id; leave Goal.id unset")
        if len(goal.description) > self.stores.settings.max_content_chars:
            raise ValidationError(
                f"goal description has {len(goal.description)} characters; the limit is "
                f"MEMORY_MAX_CONTENT_CHARS={self.stores.settings.max_content_chars}"
            )
        parent_id = None if goal.parent_id is None else _goal_id(goal.parent_id, "parent_id")
        [embedding] = self.stores.embedder.embed([goal.description])
        stamp = to_ms(now())
        goal_id = ids.new_id()
        graph = self.stores.graph
        rows = graph.write(
            q.add_goal(graph.dialect, with_parent=parent_id is not None),
            self._params(
                id=goal_id,
                description=goal.description,
                priority=goal.priority,
                status=goal.status,
                parent_id=parent_id,
                deadline=to_ms(goal.deadline),
                completed_at=stamp if goal.status == "completed" else None,
                embedding=embedding,
                now=stamp,
            ),
        )
        if not rows:
            raise NotFoundError(f"no parent goal with id {parent_id!r} for this user; nothing was written")
        context_cache.changed(self.stores, self.user_id)
        return goal.model_copy(
            update={
                "id": goal_id,
                "parent_id": parent_id,
                "blocked_by": [],
                "created_at": from_ms(stamp),
                "updated_at": from_ms(stamp),
                "completed_at": from_ms(stamp) if goal.status == "completed" else None,
            }
        )

    def add_blocker(self, goal_id: str, blocked_by_goal_id: str) -> None:
        """Record that `goal_id` is blocked by `blocked_by_goal_id` (idempotent; status unchanged)."""
        goal_id = _goal_id(goal_id)
        blocker = _goal_id(blocked_by_goal_id, "blocked_by_goal_id")
        if goal_id == blocker:
            raise ValidationError(f"goal {goal_id!r} cannot block itself")
        graph = self.stores.graph
        rows = graph.write(q.add_blocker(graph.dialect), self._params(goal_id=goal_id, blocker_id=blocker))
        if rows:
            context_cache.changed(self.stores, self.user_id)
            return
        found = {r["id"] for r in graph.read(q.goal_ids(graph.dialect), self._params(ids=[goal_id, blocker]))}
        missing = [x for x in (goal_id, blocker) if x not in found]
        if missing:
            raise NotFoundError(f"no goal with id {missing[0]!r} for this user")
        raise ValidationError(
            f"goal {blocker!r} is already blocked by {goal_id!r} (directly or through other goals); "
            f"a blocker cycle would block both forever"
        )

    def update_goal_status(self, goal_id: str, status: str) -> Goal:
        """Set a goal's status (active, completed, abandoned, blocked); returns the updated goal."""
        goal_id = _goal_id(goal_id)
        if status not in STATUSES:
            raise ValidationError(f"invalid goal status {status!r}; use one of: {', '.join(STATUSES)}")
        graph = self.stores.graph
        if not graph.write(q.update_status(graph.dialect), self._params(id=goal_id, status=status)):
            raise NotFoundError(f"no goal with id {goal_id!r} for this user")
        context_cache.changed(self.stores, self.user_id)
        return self.get_goal(goal_id)

    def get_goal(self, goal_id: str) -> Goal:
        """One goal by id (NotFoundError if it is not one of this user's goals)."""
        goal_id = _goal_id(goal_id)
        graph = self.stores.graph
        rows = graph.read(q.get_goal(graph.dialect), self._params(id=goal_id))
        if not rows:
            raise NotFoundError(f"no goal with id {goal_id!r} for this user")
        return _goal_row(rows[0])

    def get_active_goals(self) -> list[Goal]:
        """Active goals, highest priority first (5 = highest), then oldest first."""
        graph = self.stores.graph
        rows = graph.read(q.goals_by_status(graph.dialect), self._params(status="active"))
        return [_goal_row(r) for r in rows]

    def subgoals(self, goal_id: str) -> list[Goal]:
        """Direct sub-goals of a goal, highest priority first (NotFoundError if the goal is unknown)."""
        goal_id = _goal_id(goal_id)
        graph = self.stores.graph
        rows = graph.read(q.subgoals(graph.dialect), self._params(id=goal_id))
        if not rows:
            raise NotFoundError(f"no goal with id {goal_id!r} for this user")
        return [_goal_row(r) for r in rows if r["id"] is not None]
