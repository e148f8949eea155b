"""The operations both front ends offer, for one principal and one of its tenant's users.

REST routes and MCP tools are thin adapters over `MemoryService`: it names the runtime user and conversations
through `tenancy`, calls `AgentMemory`, and gives conversation ids back as the tenant named them.
"""

from datetime import datetime
from typing import Any

from memory_ops.server import schemas
from memory_ops.server.errors import forbidden
from memory_ops.server.keys import Principal
from memory_ops.server.tenancy import TenantMemories, public_conversation_id, public_text, runtime_conversation_id
from memory_runtime.api import AgentMemory
from memory_runtime.domain.models import (
    Entity,
    Fact,
    Goal,
    GoalStatus,
    MemoryBundle,
    Neighbour,
    StrategyMatch,
    ToolStats,
    Turn,
    TurnHit,
    UserContext,
)
from memory_runtime.stores.postgres.timeline import user_timeline


def _fact(row: dict[str, Any]) -> Fact:
    return Fact(**{k: v for k, v in row.items() if k in Fact.model_fields})


class MemoryService:
    """The public API of the runtime, per (principal, user_id); see the module docstring."""

    def __init__(self, memories: TenantMemories) -> None:
        self.memories = memories

    def _memory(self, principal: Principal, user_id: str) -> AgentMemory:
        return self.memories.get(principal.tenant, user_id)

    # ---- turns -----------------------------------------------------------------------------------
    def _runtime_turn(self, principal: Principal, turn: Turn) -> Turn:
        data = turn.model_dump(exclude_unset=True)
        data["conversation_id"] = runtime_conversation_id(principal.tenant, turn.conversation_id)
        return Turn(**data)

    def _public_turn(self, principal: Principal, turn: Turn) -> Turn:
        conv = public_conversation_id(principal.tenant, turn.conversation_id) or turn.conversation_id
        return Turn.model_construct(**{**turn.model_dump(), "conversation_id": conv})

    def store_turns(self, principal: Principal, user_id: str, turns: list[Turn]) -> schemas.WriteResultOut:
        """Store turns durably (idempotent on conversation and index); one call is all-or-nothing."""
        memory = self._memory(principal, user_id)
        runtime_turns = [self._runtime_turn(principal, t) for t in turns]
        result = memory.store_turn(runtime_turns[0]) if len(turns) == 1 else memory.store_turns(runtime_turns)
        warnings = [public_text(principal.tenant, w) for w in result.warnings]
        return schemas.WriteResultOut(
            turn_ids=result.turn_ids, inserted=result.inserted, duplicates=result.duplicates, warnings=warnings
        )

    def recent_turns(
        self, principal: Principal, user_id: str, conversation_id: str | None, limit: int
    ) -> schemas.RecentTurns:
        """The latest stored turns of a conversation (or of all the user's), oldest first."""
        conv = None if conversation_id is None else runtime_conversation_id(principal.tenant, conversation_id)
        turns = self._memory(principal, user_id).episodic.get_recent_turns(limit, conversation_id=conv)
        return schemas.RecentTurns(turns=[self._public_turn(principal, t) for t in turns])

    # ---- recall ----------------------------------------------------------------------------------
    def remember(
        self, principal: Principal, user_id: str, request: schemas.RememberRequest
    ) -> schemas.RememberResponse:
        """Hybrid recall, with the context string packed into max_tokens when asked."""
        bundle = self._memory(principal, user_id).remember(
            request.query,
            request.top_k,
            include_episodic=request.include_episodic,
            include_semantic=request.include_semantic,
            include_procedural=request.include_procedural,
            time_window_hours=request.time_window_hours,
            as_of=request.as_of,
        )
        bundle = self._public_bundle(principal, bundle)
        context = None if request.max_tokens is None else bundle.to_context_string(max_tokens=request.max_tokens)
        return schemas.RememberResponse(bundle=bundle, context=context)

    def _public_bundle(self, principal: Principal, bundle: MemoryBundle) -> MemoryBundle:
        def public(hit: TurnHit) -> TurnHit:
            conv = public_conversation_id(principal.tenant, hit.conversation_id) or hit.conversation_id
            return hit.model_copy(update={"conversation_id": conv})

        return bundle.model_copy(update={"relevant_turns": [public(h) for h in bundle.relevant_turns]})

    # ---- facts and entities ------------------------------------------------------------------------
    def learn_fact(self, principal: Principal, user_id: str, request: schemas.LearnFactRequest) -> Fact:
        """Learn a fact; returns it as stored."""
        options = request.model_dump(exclude={"claim", "source", "confidence", "entity_ids"})
        return self._memory(principal, user_id).learn_fact(
            request.claim, request.source, request.confidence, request.entity_ids, **options
        )

    def list_facts(
        self,
        principal: Principal,
        user_id: str,
        *,
        include_invalid: bool,
        as_of: datetime | None,
        known_at: datetime | None,
        limit: int,
    ) -> schemas.FactList:
        """The user's facts with provenance and validity: current ones, all, or those valid at `as_of`."""
        semantic = self._memory(principal, user_id).semantic
        rows = (
            semantic.facts_as_of(as_of, known_at=known_at, limit=limit)
            if as_of is not None
            else semantic.list_facts(include_invalid=include_invalid, limit=limit)
        )
        return schemas.FactList(facts=[_fact(r) for r in rows])

    def get_fact(self, principal: Principal, user_id: str, fact_id: str) -> Fact:
        """One fact with its provenance and validity."""
        return _fact(self._memory(principal, user_id).semantic.get_fact(fact_id))

    def invalidate_fact(self, principal: Principal, user_id: str, fact_id: str, at: datetime | None) -> Fact:
        """Mark a fact no longer true from `at`; it is kept for as-of recall."""
        semantic = self._memory(principal, user_id).semantic
        semantic.invalidate_fact(fact_id, at)
        return _fact(semantic.get_fact(fact_id))

    def search_facts(self, principal: Principal, user_id: str, query: str, top_k: int) -> schemas.FactSearchResult:
        """The user's current facts most relevant to `query` (vector + full-text, fused)."""
        bundle = self._memory(principal, user_id).remember(
            query, top_k, include_episodic=False, include_procedural=False
        )
        return schemas.FactSearchResult(facts=bundle.facts)

    def upsert_entity(self, principal: Principal, user_id: str, entity: Entity) -> Entity:
        """Create or merge an entity; returns it as stored."""
        return self._memory(principal, user_id).upsert_entity(entity)

    def get_entity(self, principal: Principal, user_id: str, entity_id: str) -> Entity:
        """One entity as stored."""
        return Entity(**self._memory(principal, user_id).semantic.get_entity(entity_id))

    def neighbours(self, principal: Principal, user_id: str, entity_id: str, depth: int) -> list[Neighbour]:
        """Entities within `depth` relations of an entity."""
        return self._memory(principal, user_id).neighbours(entity_id, depth)

    def relate(self, principal: Principal, user_id: str, request: schemas.RelationRequest) -> None:
        """Relate two of the user's entities."""
        self._memory(principal, user_id).relate(request.source_id, request.target_id, request.type, request.properties)

    # ---- goals -----------------------------------------------------------------------------------
    def add_goal(self, principal: Principal, user_id: str, goal: Goal) -> Goal:
        """Add a goal (a sub-goal with parent_id); returns it as stored."""
        return self._memory(principal, user_id).add_goal(goal)

    def active_goals(self, principal: Principal, user_id: str) -> schemas.GoalList:
        """Active goals, highest priority first."""
        return schemas.GoalList(goals=self._memory(principal, user_id).get_active_goals())

    def get_goal(self, principal: Principal, user_id: str, goal_id: str) -> Goal:
        """One goal."""
        return self._memory(principal, user_id).goals.get_goal(goal_id)

    def subgoals(self, principal: Principal, user_id: str, goal_id: str) -> schemas.GoalList:
        """The sub-goals of a goal."""
        memory = self._memory(principal, user_id)
        memory.goals.get_goal(goal_id)  # 404 for an unknown goal rather than an empty list
        return schemas.GoalList(goals=memory.goals.subgoals(goal_id))

    def set_goal_status(self, principal: Principal, user_id: str, goal_id: str, status: GoalStatus) -> Goal:
        """Set a goal's status; returns the updated goal."""
        return self._memory(principal, user_id).update_goal_status(goal_id, status)

    def add_blocker(self, principal: Principal, user_id: str, goal_id: str, blocked_by: str) -> Goal:
        """Record that one goal is blocked by another; returns the blocked goal."""
        memory = self._memory(principal, user_id)
        memory.add_blocker(goal_id, blocked_by)
        return memory.goals.get_goal(goal_id)

    # ---- procedural ------------------------------------------------------------------------------
    def record_tool_usage(self, principal: Principal, user_id: str, request: schemas.ToolUsageRequest) -> str:
        """Audit one tool call; returns the invocation id."""
        conv = (
            None
            if request.conversation_id is None
            else runtime_conversation_id(principal.tenant, request.conversation_id)
        )
        return self._memory(principal, user_id).record_tool_usage(
            request.tool_name, request.tool_input, request.tool_output, request.success, request.latency_ms,
            request.turn_id, conversation_id=conv, error=request.error,
        )  # fmt: skip

    def tool_stats(self, principal: Principal, user_id: str, tool_name: str | None) -> list[ToolStats]:
        """Usage, success rate and latency per tool."""
        return self._memory(principal, user_id).get_tool_stats(tool_name)

    def learn_strategy(self, principal: Principal, user_id: str, request: schemas.StrategyRequest) -> str:
        """Record a strategy for a task type; returns its id."""
        return self._memory(principal, user_id).learn_strategy(
            request.description, request.task_type, request.tool_sequence, request.success
        )

    def what_worked_for(self, principal: Principal, user_id: str, task: str, top_k: int) -> list[StrategyMatch]:
        """Strategies for a task, by similarity × success rate."""
        return self._memory(principal, user_id).what_worked_for(task, top_k)

    def reinforce_strategy(self, principal: Principal, user_id: str, strategy_id: str, success: bool) -> StrategyMatch:
        """Count one more outcome of a strategy."""
        return self._memory(principal, user_id).reinforce_strategy(strategy_id, success)

    # ---- the user --------------------------------------------------------------------------------
    def user_context(self, principal: Principal, user_id: str) -> UserContext:
        """Preferences, expertise and interests."""
        return self._memory(principal, user_id).get_user_context()

    def set_preference(self, principal: Principal, user_id: str, key: str, request: schemas.PreferenceRequest) -> None:
        """Record a preference."""
        self._memory(principal, user_id).set_preference(key, request.value, request.confidence)

    def timeline(
        self, principal: Principal, user_id: str, since: datetime | None, until: datetime | None, limit: int
    ) -> schemas.Timeline:
        """The user's consolidated timeline, newest first."""
        memory = self._memory(principal, user_id)
        rows = user_timeline(memory.stores.pg, memory.user_id, since, until, limit)
        events = [
            schemas.TimelineEvent(
                **{**r, "conversation_id": public_conversation_id(principal.tenant, r["conversation_id"])}
            )
            for r in rows
        ]
        return schemas.Timeline(events=events)

    def forget_user(self, principal: Principal, user_id: str) -> schemas.ForgetResult:
        """Erase the user everywhere (admin keys only, and only within their tenant)."""
        if not principal.admin:
            raise forbidden("forget_user needs an admin key of this tenant (agent-memory keys create --admin)")
        return schemas.ForgetResult(user_id=user_id, removed=self._memory(principal, user_id).forget_user())
