"""Goals: priorities, sub-goals, blockers and status changes, scoped to one user."""

import time
from datetime import UTC, datetime

import pytest

from memory_runtime.domain import ids
from memory_runtime.domain.errors import NotFoundError, ValidationError
from memory_runtime.domain.models import Goal
from memory_runtime.memory.goals import GoalMemory

USER = "alice"
OTHER = "bob"


def goal_count(stores) -> int:
    return stores.graph.read("MATCH (g:Goal) RETURN count(g) AS n")[0]["n"]


def test_add_goal_can_be_read_back(backend_stores):
    goals = GoalMemory(backend_stores, USER)
    deadline = datetime(2026, 1, 31, 17, 30, tzinfo=UTC)
    gid = goals.add_goal(Goal(description="Ship the memory runtime", priority=4, deadline=deadline)).id
    goal = goals.get_goal(gid)
    assert {k: goal[k] for k in ("id", "description", "priority", "status", "parent_id", "blocked_by")} == {
        "id": gid,
        "description": "Ship the memory runtime",
        "priority": 4,
        "status": "active",
        "parent_id": None,
        "blocked_by": [],
    }
    assert goal["deadline"] == deadline
    assert goal["completed_at"] is None


def test_add_goal_stores_an_embedding_for_goal_search(backend_stores):
    gid = GoalMemory(backend_stores, USER).add_goal(Goal(description="Learn Rust")).id
    [row] = backend_stores.graph.read(
        "MATCH (g:Goal {id: $id}) RETURN g.embedding IS NOT NULL AS has_vector, g.user_id AS user_id",
        {"id": gid},
    )
    assert row == {"has_vector": True, "user_id": USER}


def test_active_goals_in_priority_order(backend_stores):
    goals = GoalMemory(backend_stores, USER)
    low = goals.add_goal(Goal(description="Tidy the desk", priority=1)).id
    high_old = goals.add_goal(Goal(description="Fix the outage", priority=5)).id
    time.sleep(0.005)  # created_at is in ms: make the tie-break observable
    high_new = goals.add_goal(Goal(description="Write the postmortem", priority=5)).id
    mid = goals.add_goal(Goal(description="Review the PR", priority=3)).id
    assert [g["id"] for g in goals.get_active_goals()] == [high_old, high_new, mid, low]


def test_active_goals_leave_out_goals_that_are_not_active(backend_stores):
    goals = GoalMemory(backend_stores, USER)
    active = goals.add_goal(Goal(description="Keep going")).id
    done = goals.add_goal(Goal(description="Done already")).id
    dropped = goals.add_goal(Goal(description="Not worth it")).id
    stuck = goals.add_goal(Goal(description="Waiting on legal")).id
    goals.add_goal(Goal(description="Born completed", status="completed"))
    goals.update_goal_status(done, "completed")
    goals.update_goal_status(dropped, "abandoned")
    goals.update_goal_status(stuck, "blocked")
    assert [g["id"] for g in goals.get_active_goals()] == [active]


def test_subgoal_links_to_its_parent(backend_stores):
    goals = GoalMemory(backend_stores, USER)
    parent = goals.add_goal(Goal(description="Launch v1", priority=5)).id
    child_low = goals.add_goal(Goal(description="Write docs", priority=2, parent_id=parent)).id
    child_high = goals.add_goal(Goal(description="Fix blockers", priority=4, parent_id=parent)).id
    assert goals.get_goal(child_low)["parent_id"] == parent
    assert [g["id"] for g in goals.subgoals(parent)] == [child_high, child_low]
    assert goals.subgoals(child_low) == []
    [row] = backend_stores.graph.read(
        "MATCH (c:Goal {id: $id})-[:SUBGOAL_OF]->(p:Goal) RETURN p.id AS parent", {"id": child_low}
    )
    assert row["parent"] == parent


def test_subgoal_with_unknown_parent_writes_nothing(backend_stores):
    goals = GoalMemory(backend_stores, USER)
    with pytest.raises(NotFoundError):
        goals.add_goal(Goal(description="Orphan", parent_id=ids.new_id()))
    assert goal_count(backend_stores) == 0


def test_subgoal_of_another_users_goal_is_not_found(backend_stores):
    bobs = GoalMemory(backend_stores, OTHER).add_goal(Goal(description="Bob's plan")).id
    with pytest.raises(NotFoundError):
        GoalMemory(backend_stores, USER).add_goal(Goal(description="Sneaky", parent_id=bobs))
    assert goal_count(backend_stores) == 1


def test_add_blocker_lists_the_blocker_and_keeps_the_status(backend_stores):
    goals = GoalMemory(backend_stores, USER)
    deploy = goals.add_goal(Goal(description="Deploy", priority=4)).id
    review = goals.add_goal(Goal(description="Security review", priority=3)).id
    goals.add_blocker(deploy, review)
    goals.add_blocker(deploy, review)  # idempotent
    goal = goals.get_goal(deploy)
    assert (goal["status"], goal["blocked_by"]) == ("active", [review])
    assert goals.get_active_goals()[0]["blocked_by"] == [review]
    assert backend_stores.graph.read("MATCH ()-[r:BLOCKED_BY]->() RETURN count(r) AS n")[0]["n"] == 1


def test_completed_blocker_no_longer_blocks(backend_stores):
    goals = GoalMemory(backend_stores, USER)
    deploy = goals.add_goal(Goal(description="Deploy")).id
    review = goals.add_goal(Goal(description="Security review")).id
    goals.add_blocker(deploy, review)
    goals.update_goal_status(review, "completed")
    assert goals.get_goal(deploy)["blocked_by"] == []


def test_a_goal_cannot_block_itself(stores):
    goals = GoalMemory(stores, USER)
    gid = goals.add_goal(Goal(description="Self-referential")).id
    with pytest.raises(ValidationError):
        goals.add_blocker(gid, gid)


def test_a_blocker_cycle_is_refused(backend_stores):
    goals = GoalMemory(backend_stores, USER)
    a, b, c = (goals.add_goal(Goal(description=f"Step {n}")).id for n in "abc")
    goals.add_blocker(a, b)
    goals.add_blocker(b, c)
    with pytest.raises(ValidationError):
        goals.add_blocker(c, a)
    assert goals.get_goal(c)["blocked_by"] == []


def test_add_blocker_with_an_unknown_goal_is_not_found(stores):
    goals = GoalMemory(stores, USER)
    gid = goals.add_goal(Goal(description="Real goal")).id
    with pytest.raises(NotFoundError, match="no goal"):
        goals.add_blocker(gid, ids.new_id())
    with pytest.raises(NotFoundError):
        goals.add_blocker(ids.new_id(), gid)


def test_update_goal_status_rejects_an_invalid_status(stores):
    goals = GoalMemory(stores, USER)
    gid = goals.add_goal(Goal(description="Something")).id
    with pytest.raises(ValidationError):
        goals.update_goal_status(gid, "done")
    assert goals.get_goal(gid)["status"] == "active"


def test_completing_a_goal_records_completed_at(backend_stores):
    goals = GoalMemory(backend_stores, USER)
    gid = goals.add_goal(Goal(description="Finish the report")).id
    before = datetime.now(UTC).replace(microsecond=0)
    goal = goals.update_goal_status(gid, "completed")
    assert goal["status"] == "completed"
    assert before <= goal["completed_at"] <= datetime.now(UTC)


def test_reopening_a_completed_goal_clears_completed_at(backend_stores):
    goals = GoalMemory(backend_stores, USER)
    gid = goals.add_goal(Goal(description="Finish the report")).id
    goals.update_goal_status(gid, "completed")
    assert goals.update_goal_status(gid, "active")["completed_at"] is None


def test_a_goal_created_completed_has_completed_at(stores):
    goals = GoalMemory(stores, USER)
    gid = goals.add_goal(Goal(description="Already done", status="completed")).id
    assert goals.get_goal(gid)["completed_at"] is not None


def test_another_users_goal_is_not_found(backend_stores):
    bobs = GoalMemory(backend_stores, OTHER).add_goal(Goal(description="Bob's secret plan")).id
    alice = GoalMemory(backend_stores, USER)
    mine = alice.add_goal(Goal(description="Mine")).id
    with pytest.raises(NotFoundError):
        alice.get_goal(bobs)
    with pytest.raises(NotFoundError):
        alice.update_goal_status(bobs, "abandoned")
    with pytest.raises(NotFoundError):
        alice.subgoals(bobs)
    with pytest.raises(NotFoundError):
        alice.add_blocker(mine, bobs)
    assert [g["id"] for g in alice.get_active_goals()] == [mine]
    assert GoalMemory(backend_stores, OTHER).get_goal(bobs)["status"] == "active"


def test_add_goal_requires_a_goal_model(stores):
    with pytest.raises(ValidationError):
        GoalMemory(stores, USER).add_goal({"description": "dict, not Goal"})  # type: ignore[arg-type]
