"""The OpenAI Agents SDK on agent memory: `MemorySession` (the SDK's `Session`) and `memory_tools`.

    memory = AsyncAgentMemory(user_id="u1")          # or AgentMemory: its calls then run on a worker thread
    session = MemorySession("chat-42", memory)
    result = await Runner.run(agent, "Hi", session=session)
    agent = Agent(name="assistant", tools=memory_tools(memory))

**Items are turns.** Every item `add_items` receives is stored as one turn of the conversation named by the
session id (so a session id is a conversation id, and belongs to the memory's user): its role and text come
from the item (`item_turn`), and the item's JSON text rides in the turn's metadata, so `get_items` returns
exactly what was added, in order. The turns are like any other: durable in the PostgreSQL log, projected into
the graph, found by `remember()`, consolidated by the Dagster assets, with the lineage back to them.

**Removing is not forgetting.** The turn log is append-only: `pop_item` and `clear_session` take items out of
the session's history (what the agent is given next time), recorded in `agent_session_removals`, while the
turns stay in memory, as a person remembers a conversation they restarted. `forget_user` erases them.

Each `add_items` reserves the turn indexes of its items first (`agent_session_counters`), so concurrent
calls, in one process or many, never take each other's places; a call's items stay together and in order.
Removers of one session take turns (a PostgreSQL advisory lock). If the graph is down, the items are still stored
(the log is the record) and the turns are projected later (`agent-memory reproject`); a warning is logged.
"""

import asyncio
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from memory_runtime.api import AgentMemory
from memory_runtime.async_api import AsyncAgentMemory
from memory_runtime.domain import validation
from memory_runtime.domain.errors import ProjectionError, ValidationError
from memory_runtime.domain.models import Role, Turn
from memory_runtime.integrations import require
from memory_runtime.stores.postgres import agent_sessions as repo

require("agents", "openai-agents")

from agents import FunctionTool, function_tool  # noqa: E402
from agents.memory.session_settings import SessionSettings, resolve_session_limit  # noqa: E402

if TYPE_CHECKING:
    from agents.items import TResponseInputItem
else:
    TResponseInputItem = dict

log = logging.getLogger(__name__)
_R = TypeVar("_R")
Memory = AgentMemory | AsyncAgentMemory
_ROLES: dict[str, Role] = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}


# ---- items as turns (pure) -----------------------------------------------------------------------
def _parts_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text") or p.get("refusal") for p in content if isinstance(p, dict)]
        return "\n".join(t for t in texts if isinstance(t, str) and t)
    return ""


def item_text(item: dict[str, Any], item_json: str) -> str:
    """The text an item is remembered by: its message text, the call it made, the output it returned."""
    kind = str(item.get("type") or "message")
    if "content" in item:
        text = _parts_text(item["content"])
    elif kind == "function_call":
        text = f"{item.get('name', 'tool')}({item.get('arguments', '')})"
    elif kind.endswith("_output"):
        output = item.get("output")
        text = output if isinstance(output, str) else validation.json_text(output, "tool output")
    elif kind == "reasoning":
        text = _parts_text(item.get("summary"))
    else:
        text = ""
    return text if text.strip() else item_json


def item_turn(item: dict[str, Any], session_id: str, index: int, max_chars: int) -> Turn:
    """The turn an item is stored as (its JSON text kept whole in the metadata; the text cut to `max_chars`)."""
    if not isinstance(item, dict):
        raise ValidationError(f"a session item must be a dict, got {type(item).__name__}")
    item_json = validation.json_text(item, f"item {index} of session {session_id!r}")
    kind = str(item.get("type") or "message")
    role = _ROLES.get(str(item.get("role")), "tool" if kind.endswith("_output") else "assistant")
    return Turn(
        conversation_id=session_id,
        index=index,
        role=role,
        content=item_text(item, item_json)[:max_chars],
        metadata={repo.ITEM_KEY: item_json, "agents_item_type": kind},
    )


# ---- the session log (one implementation, run on either memory) ----------------------------------
def _add(memory: AgentMemory, session_id: str, items: list[dict[str, Any]]) -> None:
    limit = memory.settings.max_content_chars
    for item in items:  # refuse a bad item before reserving anything
        item_turn(item, session_id, 0, limit)
    start = repo.reserve_indexes(memory.stores.pg, memory.user_id, session_id, len(items))
    turns = [item_turn(item, session_id, start + i, limit) for i, item in enumerate(items)]
    try:
        memory.store_turns(turns)
    except ProjectionError as exc:  # the turns are durable in the log; the graph catches up later
        log.warning("session %r: items stored, graph projection pending: %s", session_id, exc)


def _items(memory: AgentMemory, session_id: str, latest: int | None) -> list[Any]:
    return [_decode(text) for text in repo.items(memory.stores.pg, memory.user_id, session_id, latest)]


def _pop(memory: AgentMemory, session_id: str) -> Any:
    with repo.session_lock(memory.stores.pg, memory.user_id, session_id) as conn:
        text = repo.pop(conn, memory.user_id, session_id)
    return None if text is None else _decode(text)


def _clear(memory: AgentMemory, session_id: str) -> None:
    with repo.session_lock(memory.stores.pg, memory.user_id, session_id) as conn:
        repo.clear(conn, memory.user_id, session_id)


def _decode(text: str) -> Any:
    return json.loads(text)


async def _call(memory: Memory, fn: Callable[[AgentMemory], _R]) -> _R:
    """Run `fn` on the sync façade: on the asyncio drivers for an AsyncAgentMemory, else on a worker thread."""
    if isinstance(memory, AsyncAgentMemory):
        return await memory.run(fn)
    return await asyncio.to_thread(fn, memory)


class MemorySession:
    """An OpenAI Agents SDK `Session` whose items are turns of agent memory; see the module docstring."""

    def __init__(self, session_id: str, memory: Memory, *, session_settings: SessionSettings | None = None) -> None:
        self.session_id = validation.key(session_id, "session_id")
        self.memory = memory
        self.session_settings = session_settings

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The session's items, oldest first; with `limit` (or session_settings.limit) only the latest ones."""
        latest = resolve_session_limit(limit, self.session_settings)
        if latest is not None and latest < 0:
            latest = None  # as SQLiteSession: a negative limit is no limit
        return await _call(self.memory, lambda m: _items(m, self.session_id, latest))

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Store the items, in order, as turns of the session's conversation."""
        if not items:
            return
        given = [dict(item) for item in items]
        await _call(self.memory, lambda m: _add(m, self.session_id, given))

    async def pop_item(self) -> TResponseInputItem | None:
        """Take the latest item out of the session's history and return it (None if there is none)."""
        return await _call(self.memory, lambda m: _pop(m, self.session_id))

    async def clear_session(self) -> None:
        """Take every item out of the session's history (the turns stay in memory)."""
        await _call(self.memory, lambda m: _clear(m, self.session_id))


def memory_tools(memory: Memory, user_id: str | None = None) -> list[FunctionTool]:
    """`remember` and `learn_fact` as SDK function tools acting for `user_id` (default: the memory's user)."""
    for_user = _ForUser(memory, user_id)

    @function_tool
    async def remember(query: str, top_k: int = 5) -> str:
        """Recall what memory holds about a question: relevant past turns, facts, entities and strategies.

        Args:
            query: What to recall, in plain words.
            top_k: How many items of each kind to recall.
        """
        target = await for_user.memory()
        bundle = await _call(target, lambda m: m.remember(query, top_k=top_k))
        return bundle.to_context_string(max_tokens=1500) or "nothing remembered about that yet"

    @function_tool
    async def learn_fact(claim: str, confidence: float = 0.9) -> str:
        """Remember a fact about the user or the world for later conversations.

        Args:
            claim: The fact, as one short sentence.
            confidence: How sure you are of it, from 0 to 1.
        """
        target = await for_user.memory()
        fact = await _call(target, lambda m: m.learn_fact(claim, confidence=confidence))
        return f"learned fact {fact.id}: {fact.claim}"

    return [remember, learn_fact]


class _ForUser:
    """The memory of `user_id`, sharing the given memory's stores (made on first use)."""

    def __init__(self, memory: Memory, user_id: str | None) -> None:
        self._given = memory
        self._user = None if user_id is None else validation.key(user_id, "user_id")
        self._memory: Memory | None = None if self._user not in (None, memory.user_id) else memory

    async def memory(self) -> Memory:
        if self._memory is None:
            assert self._user is not None
            if isinstance(self._given, AsyncAgentMemory):
                await self._given.open()
                self._memory = AsyncAgentMemory(self._user, stores=self._given.stores)
            else:
                self._memory = AgentMemory(self._user, stores=self._given.stores)
        return self._memory


__all__ = ["MemorySession", "item_text", "item_turn", "memory_tools"]
