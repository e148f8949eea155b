"""AsyncAgentMemory: the AgentMemory API as coroutines, on the stores' native asyncio drivers.

    async with AsyncAgentMemory(user_id="u1", conversation_id="c1") as memory:
        await memory.store_turn(Turn(conversation_id="c1", index=0, role="user", content="…"))
        bundle = await memory.remember("what did we say about Cython?")
        turns = await memory.working.get_recent_turns(limit=100)

Every method is the AgentMemory method of the same name (same parameters, defaults, errors and result), run
by `memory_runtime.stores.bridge` on `AsyncStores`: one implementation of the logic, asyncio I/O. The
methods are derived from AgentMemory's (`coroutine_of`), so the two signatures cannot drift apart. A call's
concurrent jobs (remember's strategies) are asyncio tasks, cancelled together when the call is cancelled or
times out (`asyncio.timeout`); a turn is one PostgreSQL transaction, so a cancelled `store_turn` leaves the
turn stored completely or not at all, and a retry stores it.
"""

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

from memory_runtime.api import AgentMemory
from memory_runtime.config import Settings, load_settings
from memory_runtime.domain import validation
from memory_runtime.domain.models import Reflection
from memory_runtime.memory.episodic import EpisodicMemory
from memory_runtime.memory.goals import GoalMemory
from memory_runtime.memory.procedural import ProceduralMemory
from memory_runtime.memory.semantic import SemanticMemory
from memory_runtime.memory.users import UserModel
from memory_runtime.memory.working import WorkingMemory
from memory_runtime.stores import bridge
from memory_runtime.stores.async_bundle import AsyncStores

_P = ParamSpec("_P")
_R = TypeVar("_R")
_S = TypeVar("_S")  # the sync object a method belongs to
_S_co = TypeVar("_S_co", covariant=True)


class _Runs(Protocol[_S_co]):
    async def run(self, fn: Callable[[_S_co], _R]) -> _R: ...


def coroutine_of(
    method: Callable[Concatenate[_S, _P], _R],
) -> Callable[Concatenate["_Runs[_S]", _P], Coroutine[Any, Any, _R]]:
    """The coroutine method that runs the sync `method` (same parameters and docstring) through the bridge."""

    @functools.wraps(method)
    async def call(self: "_Runs[_S]", /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return await self.run(lambda target: method(target, *args, **kwargs))

    return call


class AsyncView(Generic[_S]):
    """A sub-memory of an AsyncAgentMemory: `target` picks the sync object out of the open AgentMemory."""

    def __init__(self, owner: "AsyncAgentMemory", target: Callable[[AgentMemory], _S]) -> None:
        self._owner = owner
        self._target = target

    async def run(self, fn: Callable[[_S], _R]) -> _R:
        """`fn(sub_memory)` on the sync sub-memory, as one call of the owner (see `AsyncAgentMemory.run`)."""
        return await self._owner.run(lambda memory: fn(self._target(memory)))


class AsyncWorkingMemory(AsyncView[WorkingMemory]):
    """`memory.working` as coroutines; `memory.working("c2")` is another conversation's."""

    def __call__(self, conversation_id: str | None = None) -> "AsyncWorkingMemory":
        if conversation_id is None:
            return self
        conv = validation.key(conversation_id, "conversation_id")
        return AsyncWorkingMemory(self._owner, lambda memory: memory.working(conv))

    push_turns = coroutine_of(WorkingMemory.push_turns)
    recent_turns = coroutine_of(WorkingMemory.recent_turns)
    get_recent_turns = coroutine_of(WorkingMemory.get_recent_turns)
    set_context = coroutine_of(WorkingMemory.set_context)
    get_context = coroutine_of(WorkingMemory.get_context)
    delete_context = coroutine_of(WorkingMemory.delete_context)
    add_thought = coroutine_of(WorkingMemory.add_thought)
    thoughts = coroutine_of(WorkingMemory.thoughts)
    set_active_goal = coroutine_of(WorkingMemory.set_active_goal)
    active_goal = coroutine_of(WorkingMemory.active_goal)
    clear = coroutine_of(WorkingMemory.clear)


class AsyncEpisodicMemory(AsyncView[EpisodicMemory]):
    """`memory.episodic` as coroutines."""

    store_turns = coroutine_of(EpisodicMemory.store_turns)
    get_recent_turns = coroutine_of(EpisodicMemory.get_recent_turns)
    vector_search = coroutine_of(EpisodicMemory.vector_search)


class AsyncSemanticMemory(AsyncView[SemanticMemory]):
    """`memory.semantic` as coroutines."""

    upsert_entity = coroutine_of(SemanticMemory.upsert_entity)
    get_entity = coroutine_of(SemanticMemory.get_entity)
    find_entities = coroutine_of(SemanticMemory.find_entities)
    relate = coroutine_of(SemanticMemory.relate)
    neighbours = coroutine_of(SemanticMemory.neighbours)
    get_entity_graph = coroutine_of(SemanticMemory.get_entity_graph)
    vector_search_entities = coroutine_of(SemanticMemory.vector_search_entities)
    learn_fact = coroutine_of(SemanticMemory.learn_fact)
    get_fact = coroutine_of(SemanticMemory.get_fact)
    invalidate_fact = coroutine_of(SemanticMemory.invalidate_fact)
    retract = coroutine_of(SemanticMemory.retract)
    facts_about = coroutine_of(SemanticMemory.facts_about)
    facts_as_of = coroutine_of(SemanticMemory.facts_as_of)
    list_facts = coroutine_of(SemanticMemory.list_facts)
    vector_search_facts = coroutine_of(SemanticMemory.vector_search_facts)


class AsyncProceduralMemory(AsyncView[ProceduralMemory]):
    """`memory.procedural` as coroutines."""

    record_tool_usage = coroutine_of(ProceduralMemory.record_tool_usage)
    get_tool_stats = coroutine_of(ProceduralMemory.get_tool_stats)
    reproject_tools = coroutine_of(ProceduralMemory.reproject_tools)
    learn_strategy = coroutine_of(ProceduralMemory.learn_strategy)
    reinforce_strategy = coroutine_of(ProceduralMemory.reinforce_strategy)
    what_worked_for = coroutine_of(ProceduralMemory.what_worked_for)
    find_strategies = coroutine_of(ProceduralMemory.find_strategies)
    has_strategies = coroutine_of(ProceduralMemory.has_strategies)


class AsyncGoalMemory(AsyncView[GoalMemory]):
    """`memory.goals` as coroutines."""

    add_goal = coroutine_of(GoalMemory.add_goal)
    add_blocker = coroutine_of(GoalMemory.add_blocker)
    update_goal_status = coroutine_of(GoalMemory.update_goal_status)
    get_goal = coroutine_of(GoalMemory.get_goal)
    get_active_goals = coroutine_of(GoalMemory.get_active_goals)
    subgoals = coroutine_of(GoalMemory.subgoals)


class AsyncUserModel(AsyncView[UserModel]):
    """`memory.profile` as coroutines."""

    set_preference = coroutine_of(UserModel.set_preference)
    add_expertise = coroutine_of(UserModel.add_expertise)
    add_interest = coroutine_of(UserModel.add_interest)
    profile_from_graph = coroutine_of(UserModel.profile_from_graph)
    mirror_to_postgres = coroutine_of(UserModel.mirror_to_postgres)
    get_user_context = coroutine_of(UserModel.get_user_context)


class AsyncAgentMemory:
    """Memory of one user (and optionally one current conversation), as coroutines; see the module docstring.

    Use `async with AsyncAgentMemory(...) as memory:` or call `await memory.aclose()` when done; the stores
    open on entry (or on the first call). Pass `stores` (an open `AsyncStores`) to share pools between many
    objects of one event loop; they are then not closed by `aclose()`.
    """

    def __init__(
        self,
        user_id: str,
        conversation_id: str | None = None,
        *,
        settings: Settings | None = None,
        stores: AsyncStores | None = None,
    ) -> None:
        self.user_id = validation.key(user_id, "user_id")
        self.conversation_id = None if conversation_id is None else validation.key(conversation_id, "conversation_id")
        self.settings = settings or (stores.settings if stores else load_settings())
        self._given = stores
        self.stores: AsyncStores | None = stores
        self._memory: AgentMemory | None = None
        self._opening = asyncio.Lock()
        self._closed = False
        self.working = AsyncWorkingMemory(self, lambda memory: memory.working)
        self.episodic = AsyncEpisodicMemory(self, lambda memory: memory.episodic)
        self.semantic = AsyncSemanticMemory(self, lambda memory: memory.semantic)
        self.procedural = AsyncProceduralMemory(self, lambda memory: memory.procedural)
        self.goals = AsyncGoalMemory(self, lambda memory: memory.goals)
        self.profile = AsyncUserModel(self, lambda memory: memory.profile)

    # ---- lifecycle -----------------------------------------------------------------------------
    async def open(self) -> "AsyncAgentMemory":
        """Open the stores and check the schema (done by `async with` and by the first call)."""
        await self._open()
        return self

    async def _open(self) -> tuple[AgentMemory, AsyncStores]:
        async with self._opening:
            if self._closed:
                raise RuntimeError("this AsyncAgentMemory is closed")
            if self._memory is None or self.stores is None:
                stores = self._given or await AsyncStores.aopen(self.settings)
                try:
                    self._memory = await bridge.run(
                        AgentMemory, self.user_id, self.conversation_id, settings=self.settings, stores=stores
                    )
                except BaseException:
                    if self._given is None:
                        await stores.aclose()
                    raise
                self.stores = stores
            return self._memory, self.stores

    async def run(self, fn: Callable[[AgentMemory], _R]) -> _R:
        """`fn(memory)`, a function written against the sync `AgentMemory`, run as one call of this object.

        The extension point for code that composes several calls, or uses parts of the runtime beyond the
        façade (the integrations do): `fn` gets the `AgentMemory` over this object's asyncio stores, so its
        store I/O is awaited on the event loop (it must not block otherwise: no `time.sleep`, no sync HTTP
        client of its own), and its concurrent jobs are cancelled with it. Returns what `fn` returns.

            both = await memory.run(lambda m: (m.remember("Cython"), m.get_active_goals()))
        """
        memory, stores = await self._open()
        async with bridge.task_scope(stores.executor):
            return await bridge.run(fn, memory)

    async def aclose(self) -> None:
        """Close the stores this object opened (idempotent); pending write-behind jobs finish first."""
        async with self._opening:
            self._closed = True
            stores, self.stores, self._memory = self.stores, None, None
        if stores is not None and self._given is None:
            await stores.aclose()

    async def __aenter__(self) -> "AsyncAgentMemory":
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- the AgentMemory API -------------------------------------------------------------------
    store_turn = coroutine_of(AgentMemory.store_turn)
    store_turns = coroutine_of(AgentMemory.store_turns)
    reproject = coroutine_of(AgentMemory.reproject)
    flush_graph = coroutine_of(AgentMemory.flush_graph)
    recent_turns = coroutine_of(AgentMemory.recent_turns)
    remember = coroutine_of(AgentMemory.remember)
    learn_fact = coroutine_of(AgentMemory.learn_fact)
    upsert_entity = coroutine_of(AgentMemory.upsert_entity)
    relate = coroutine_of(AgentMemory.relate)
    neighbours = coroutine_of(AgentMemory.neighbours)
    add_goal = coroutine_of(AgentMemory.add_goal)
    get_active_goals = coroutine_of(AgentMemory.get_active_goals)
    update_goal_status = coroutine_of(AgentMemory.update_goal_status)
    add_blocker = coroutine_of(AgentMemory.add_blocker)
    record_tool_usage = coroutine_of(AgentMemory.record_tool_usage)
    get_tool_stats = coroutine_of(AgentMemory.get_tool_stats)
    learn_strategy = coroutine_of(AgentMemory.learn_strategy)
    what_worked_for = coroutine_of(AgentMemory.what_worked_for)
    reinforce_strategy = coroutine_of(AgentMemory.reinforce_strategy)
    get_user_context = coroutine_of(AgentMemory.get_user_context)
    set_preference = coroutine_of(AgentMemory.set_preference)
    set_working_context = coroutine_of(AgentMemory.set_working_context)
    get_working_context = coroutine_of(AgentMemory.get_working_context)
    forget_user = coroutine_of(AgentMemory.forget_user)

    async def reflect(self, outcome: str | Reflection, success: bool | None = None, **details: Any) -> str:
        """Queue a reflection on an outcome for the `reflections` asset; returns the job id."""
        return await self.run(lambda memory: memory.reflect(outcome, success, **details))


__all__ = ["AsyncAgentMemory", "coroutine_of"]
