"""AgentMemory: the façade agents use. It validates scope, applies limits and metrics, and delegates.

Each capability lives in its own module (episodic, semantic, procedural, goals, users, working,
reflection, retrieval, erasure); this class only wires them to one user and conversation.
"""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

from memory_runtime import metrics, tracing
from memory_runtime.config import Settings, load_settings
from memory_runtime.domain import validation
from memory_runtime.domain.errors import AgentMemoryError, ProjectionError, StoreUnavailableError, ValidationError
from memory_runtime.domain.models import (
    Entity,
    Fact,
    FactSource,
    Goal,
    GoalStatus,
    MemoryBundle,
    Neighbour,
    Reflection,
    StrategyMatch,
    ToolStats,
    Turn,
    UserContext,
)
from memory_runtime.memory.episodic import EpisodicMemory, ReprojectReport, WriteResult, graph_writes, reproject
from memory_runtime.memory.working import WorkingMemory
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.postgres import turns as pg_turns

if TYPE_CHECKING:  # imported lazily at run time: each pulls in its own dependencies
    from memory_runtime.memory.goals import GoalMemory
    from memory_runtime.memory.procedural import ProceduralMemory
    from memory_runtime.memory.ratelimit import RateLimiter
    from memory_runtime.memory.semantic import SemanticMemory
    from memory_runtime.memory.users import UserModel


@contextmanager
def _redis_errors() -> Iterator[None]:
    """Redis connection failures as a StoreUnavailableError naming MEMORY_REDIS_URI."""
    import redis

    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise StoreUnavailableError("Redis", "MEMORY_REDIS_URI", str(exc) or type(exc).__name__) from exc


# Operations that queue graph writes rather than wait for them (MEMORY_GRAPH_WRITES=batched).
_QUEUES_GRAPH_WRITES = frozenset({"store_turn", "store_turns"})


class FactFields(TypedDict, total=False):
    """The keyword options `learn_fact` hands to SemanticMemory.learn_fact as they are."""

    valid_at: datetime | None
    invalid_at: datetime | None
    extractor_version: str | None
    subject: str | None
    predicate: str | None
    object: str | None
    supersedes: Sequence[str] | None
    single_valued: bool | None


class FactOptions(FactFields, total=False):
    """The keyword options of `learn_fact` beyond the design's positional ones (see SemanticMemory.learn_fact)."""

    source_turn_ids: Sequence[str] | None


class AgentMemory:
    """Memory of one user (and optionally one current conversation).

    Settings come from the environment / `.env` unless given. Pass `stores` to share connection pools
    between many AgentMemory objects in one process (e.g. one per request); they are then not closed
    by `close()`.

    The sub-memories are attributes: `working` (the current conversation's; `working("c2")` for another),
    `episodic`, `semantic`, `procedural`, `goals` and `profile`, all scoped to this user. Turn ids a caller
    chose (`Turn.id`) are accepted wherever a turn id is (`learn_fact`, `record_tool_usage`).
    """

    def __init__(
        self,
        user_id: str,
        conversation_id: str | None = None,
        *,
        settings: Settings | None = None,
        stores: Stores | None = None,
    ) -> None:
        self.user_id = validation.key(user_id, "user_id")
        self.conversation_id = None if conversation_id is None else validation.key(conversation_id, "conversation_id")
        self.settings = settings or (stores.settings if stores else load_settings())
        self._owns_stores = stores is None
        self.stores = stores or Stores.open(self.settings)
        try:
            self._check_schema()
        except BaseException:
            self.close()
            raise
        if self.settings.metrics_port:  # idempotent: every AgentMemory of a process shares one endpoint
            metrics.start_metrics_server(self.settings.metrics_port)

    # ---- start-up ------------------------------------------------------------------------------
    def _check_schema(self) -> None:
        from memory_runtime.stores.migrations import check_schema

        check_schema(self.stores.pg, self.settings.embedding_dimensions, self.stores.embedder.model_id)

    # ---- plumbing ------------------------------------------------------------------------------
    @cached_property
    def _limiter(self) -> "RateLimiter":
        from memory_runtime.memory.ratelimit import RateLimiter

        return RateLimiter.from_settings(self.stores.redis, self.settings)

    @contextmanager
    def _op(self, operation: str, kind: Literal["read", "write"]) -> Iterator[None]:
        """Rate-limit, time, trace (the root span of the call) and count errors of one public operation."""
        from memory_runtime.domain.errors import RateLimited

        try:
            self._limiter.acquire(self.user_id, kind, operation)
        except RateLimited:
            metrics.rate_limited(operation)
            raise
        with metrics.timed(operation), tracing.operation(operation, self.user_id):
            try:
                with _redis_errors():
                    if operation not in _QUEUES_GRAPH_WRITES:
                        self._await_graph_writes()
                    yield
            except StoreUnavailableError as exc:
                metrics.store_error(exc.store, "unavailable")
                raise

    def _await_graph_writes(self) -> None:
        """Read-your-writes with MEMORY_GRAPH_WRITES=batched: wait for this user's queued graph projections."""
        queue = graph_writes(self.stores)
        if queue is not None and queue.pending(self.user_id):
            with tracing.span("graph_writes.wait"):
                queue.wait(self.user_id)

    @cached_property
    def working(self) -> WorkingMemory:
        """Working memory of the current conversation; `working(conversation_id)` gives another one's."""
        return WorkingMemory(
            self.stores.redis,
            self.user_id,
            self.conversation_id,
            max_turns=self.settings.working_memory_turns,
            ttl_s=self.settings.working_memory_ttl_s,
        )

    @cached_property
    def episodic(self) -> EpisodicMemory:
        """The turn log of this user."""
        return EpisodicMemory(
            self.stores,
            self.user_id,
            lambda conv, items: self.working(conv).push_turns(items),
            conversation_id=self.conversation_id,
        )

    @cached_property
    def semantic(self) -> "SemanticMemory":
        """Entities, facts and relations of this user."""
        from memory_runtime.memory.semantic import SemanticMemory

        return SemanticMemory(self.stores, self.user_id)

    @cached_property
    def procedural(self) -> "ProceduralMemory":
        """Tools and strategies of this user."""
        from memory_runtime.memory.procedural import ProceduralMemory

        return ProceduralMemory(self.stores, self.user_id)

    @cached_property
    def goals(self) -> "GoalMemory":
        """Goals of this user."""
        from memory_runtime.memory.goals import GoalMemory

        return GoalMemory(self.stores, self.user_id)

    @cached_property
    def profile(self) -> "UserModel":
        """Preferences, expertise and interests of this user."""
        from memory_runtime.memory.users import UserModel

        return UserModel(self.stores, self.user_id)

    # ---- episodic ------------------------------------------------------------------------------
    def store_turn(self, turn: Turn) -> WriteResult:
        """Store one turn durably (idempotent); see EpisodicMemory for the guarantees."""
        with self._op("store_turn", "write"):
            return self.episodic.store_turns([turn])

    def store_turns(self, turns: Iterable[Turn]) -> WriteResult:
        """Store a batch of turns atomically in Postgres, then project them."""
        turns = list(turns)
        with self._op("store_turns", "write"):
            return self.episodic.store_turns(turns)

    def flush_graph(self) -> None:
        """Wait until this user's turns are in the graph; with MEMORY_GRAPH_WRITES=batched, raise ProjectionError
        naming the turns whose queued projection failed since the last report (they are durable in PostgreSQL:
        `reproject()` writes them). Immediate with MEMORY_GRAPH_WRITES=sync, where store_turn reports failures."""
        with self._op("flush_graph", "write"):
            queue = graph_writes(self.stores)
            failed = queue.take_failures(self.user_id) if queue is not None else None
            if failed is not None:
                raise ProjectionError("graph", failed.turn_ids, failed.detail)

    def reproject(self, since: datetime | None = None, until: datetime | None = None) -> ReprojectReport:
        """Re-project this user's turns that the graph is missing (after a graph outage)."""
        with self._op("reproject", "write"):
            return reproject(self.stores, since=since, until=until, user_id=self.user_id)

    def recent_turns(self, n: int | None = None, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """The most recent turns of a conversation from working memory, oldest first."""
        with _redis_errors():
            return self.working(conversation_id).recent_turns(n)

    # ---- retrieval -----------------------------------------------------------------------------
    def remember(
        self,
        query: str,
        top_k: int | None = None,
        *,
        include_episodic: bool = True,
        include_semantic: bool = True,
        include_procedural: bool = True,
        time_window_hours: float | None = None,
        as_of: datetime | None = None,
    ) -> MemoryBundle:
        """Hybrid, user-scoped recall for `query` (see memory_runtime.retrieval)."""
        from memory_runtime.retrieval import Retriever

        with self._op("remember", "read"):
            return Retriever(self.stores, self.user_id).remember(
                query,
                top_k=top_k or self.settings.default_top_k,
                include_episodic=include_episodic,
                include_semantic=include_semantic,
                include_procedural=include_procedural,
                time_window_hours=time_window_hours,
                as_of=as_of,
            )

    # ---- semantic ------------------------------------------------------------------------------
    def learn_fact(
        self,
        claim: str,
        source: FactSource = "user_stated",
        confidence: float = 0.9,
        entity_ids: Sequence[str] | None = None,
        source_turn_id: str | None = None,
        **options: Unpack[FactOptions],
    ) -> Fact:
        """Learn a fact (bi-temporal, with provenance); returns it as stored, with its id.

        A plain claim, or a claim with `subject`/`predicate`/`object`, which lets a newer object of a
        single-valued predicate supersede the old fact (see `SemanticMemory.learn_fact` for every option).
        """
        with self._op("learn_fact", "write"):
            turns = [t for t in [source_turn_id, *(options.pop("source_turn_ids", None) or [])] if t]
            fields: FactFields = options  # without source_turn_ids, now in `turns`
            return self.semantic.learn_fact(
                claim, source=source, confidence=confidence, entity_ids=entity_ids or [],
                source_turn_ids=self._stored_turn_ids(turns), **fields,
            )  # fmt: skip

    def _stored_turn_ids(self, given: list[str]) -> list[str]:
        """Turn ids as the stores know them: a caller's own turn id is translated (one lookup, only if any)."""
        try:
            checked = [validation.key(t, "turn id") for t in given]
        except ValidationError:
            return given  # the callee reports the malformed id
        if checked != given:
            return given
        return pg_turns.resolve_turn_ids(self.stores.pg, self.user_id, given) if given else given

    def upsert_entity(self, entity: Entity) -> Entity:
        """Create or merge an entity (normalised name + type); returns it as stored, with its id."""
        with self._op("upsert_entity", "write"):
            return self.semantic.upsert_entity(entity)

    def relate(self, source_id: str, target_id: str, rel_type: str, properties: dict[str, Any] | None = None) -> None:
        """Relate two of this user's entities with a whitelisted relationship type."""
        with self._op("relate", "write"):
            self.semantic.relate(source_id, target_id, rel_type, properties)

    def neighbours(self, entity_id: str, depth: int = 1) -> list[Neighbour]:
        """Entities within `depth` (1–2) hops of an entity."""
        with self._op("neighbours", "read"):
            return self.semantic.neighbours(entity_id, depth=depth)

    # ---- goals ---------------------------------------------------------------------------------
    def add_goal(self, goal: Goal) -> Goal:
        """Add a goal (optionally a sub-goal via parent_id); returns it as stored, with its id."""
        with self._op("add_goal", "write"):
            return self.goals.add_goal(goal)

    def get_active_goals(self) -> list[Goal]:
        """Active goals, highest priority first."""
        with self._op("get_active_goals", "read"):
            return self.goals.get_active_goals()

    def update_goal_status(self, goal_id: str, status: GoalStatus) -> Goal:
        """Set a goal's status (active, completed, abandoned, blocked); returns the updated goal."""
        with self._op("update_goal_status", "write"):
            return self.goals.update_goal_status(goal_id, status)

    def add_blocker(self, goal_id: str, blocked_by_goal_id: str) -> None:
        """Record that one goal is blocked by another."""
        with self._op("add_blocker", "write"):
            self.goals.add_blocker(goal_id, blocked_by_goal_id)

    # ---- procedural ----------------------------------------------------------------------------
    def record_tool_usage(
        self,
        tool_name: str,
        tool_input: Any,
        tool_output: Any,
        success: bool,
        latency_ms: float,
        turn_id: str | None = None,
        *,
        conversation_id: str | None = None,
        error: str | None = None,
    ) -> str:
        """Audit a tool call in Postgres and update the tool's statistics; returns the invocation id."""
        with self._op("record_tool_usage", "write"):
            [stored_turn] = self._stored_turn_ids([turn_id]) if isinstance(turn_id, str) else [turn_id]
            return self.procedural.record_tool_usage(
                tool_name, tool_input, tool_output, success, latency_ms, stored_turn,
                conversation_id=conversation_id, error=error,
            )  # fmt: skip

    def get_tool_stats(self, tool_name: str | None = None) -> list[ToolStats]:
        """Usage, success rate and mean latency per tool."""
        with self._op("get_tool_stats", "read"):
            return self.procedural.get_tool_stats(tool_name)

    def learn_strategy(
        self, description: str, task_type: str, tool_sequence: Iterable[str] = (), success: bool | None = None
    ) -> str:
        """Record a strategy for a task type (`success` counts one outcome); returns its id."""
        with self._op("learn_strategy", "write"):
            return self.procedural.learn_strategy(description, task_type, tuple(tool_sequence), success=success)

    def what_worked_for(self, task: str, top_k: int = 5) -> list[StrategyMatch]:
        """Strategies for a task, ranked by similarity × success rate."""
        with self._op("what_worked_for", "read"):
            return self.procedural.what_worked_for(task, top_k=top_k)

    def reinforce_strategy(self, strategy_id: str, success: bool) -> StrategyMatch:
        """Count one more success or failure of a strategy."""
        with self._op("reinforce_strategy", "write"):
            return self.procedural.reinforce_strategy(strategy_id, success)

    # ---- user model and working memory ---------------------------------------------------------
    def get_user_context(self) -> UserContext:
        """Preferences, expertise and interests of this user."""
        with self._op("get_user_context", "read"):
            return self.profile.get_user_context()

    def set_preference(self, key: str, value: Any, confidence: float = 0.8) -> None:
        """Record a user preference (graph + Postgres profile)."""
        with self._op("set_preference", "write"):
            self.profile.set_preference(key, value, confidence)

    def set_working_context(self, key: str, value: Any, ttl_seconds: int = 3600) -> None:
        """Set a working-memory entry of the current conversation with its own TTL."""
        with _redis_errors():
            self.working().set_context(key, value, ttl_seconds)

    def get_working_context(self) -> dict[str, Any]:
        """Unexpired working-memory entries of the current conversation."""
        with _redis_errors():
            return self.working().get_context()

    def reflect(self, outcome: str | Reflection, success: bool | None = None, **details: Any) -> str:
        """Queue a reflection on an outcome for the `reflections` asset; returns the job id."""
        from memory_runtime.memory.reflection import ReflectionQueue

        reflection = (
            outcome
            if isinstance(outcome, Reflection)
            else Reflection(outcome=outcome, success=success, conversation_id=self.conversation_id, details=details)
        )
        with self._op("reflect", "write"):
            return ReflectionQueue(self.stores.redis).enqueue(
                self.user_id, reflection.conversation_id or self.conversation_id, reflection
            )

    # ---- erasure -------------------------------------------------------------------------------
    def forget_user(self) -> dict[str, int]:
        """Erase this user from every store; returns counts per store. Safe to call again."""
        from memory_runtime.memory.erasure import forget_user

        with self._op("forget_user", "write"):
            return forget_user(self.stores, self.user_id)

    # ---- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the store connections this object opened."""
        if self._owns_stores and getattr(self, "stores", None) is not None:
            self.stores.close()

    def __enter__(self) -> "AgentMemory":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["AgentMemory", "AgentMemoryError"]
