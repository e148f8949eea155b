"""MemorySession as the OpenAI Agents SDK's Session: two runs of the SDK's Runner over it (a scripted model,
no network), the same answers as the SDK's own SQLiteSession, turns in the log that remember() finds, and
memory_tools called by the runner."""

import asyncio
import json
import os
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")

from agents import Agent, Runner, SQLiteSession, set_tracing_disabled  # noqa: E402
from agents.items import ModelResponse  # noqa: E402
from agents.memory import Session  # noqa: E402
from agents.memory.session_settings import SessionSettings  # noqa: E402
from agents.models.interface import Model  # noqa: E402
from agents.testing import assistant_message, function_call  # noqa: E402
from agents.tool_context import ToolContext  # noqa: E402
from agents.usage import Usage  # noqa: E402

from memory_runtime.api import AgentMemory  # noqa: E402
from memory_runtime.async_api import AsyncAgentMemory  # noqa: E402
from memory_runtime.domain.errors import ValidationError  # noqa: E402
from memory_runtime.integrations.openai_agents import MemorySession, memory_tools  # noqa: E402

set_tracing_disabled(True)


class CannedModel(Model):
    """A model that answers with canned outputs, one list per call, and keeps every input it was given."""

    def __init__(self, *outputs: list[Any]) -> None:
        self.outputs = list(outputs)
        self.inputs: list[Any] = []

    async def get_response(self, system_instructions, input, model_settings, tools, output_schema, handoffs,
                           tracing, **kwargs) -> ModelResponse:  # fmt: skip
        self.inputs.append(input)
        return ModelResponse(output=self.outputs.pop(0), usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as r:
        yield r


@pytest.fixture(params=["AsyncAgentMemory", "AgentMemory"])
def memory(request, backend_stores, backend_settings, runner) -> Iterator[AgentMemory | AsyncAgentMemory]:
    """The memory of user u1: on the asyncio drivers, or the sync one (whose calls run on a thread)."""
    if request.param == "AgentMemory":
        yield AgentMemory("u1", stores=backend_stores)
        return
    memory = AsyncAgentMemory("u1", settings=backend_settings)
    runner.run(memory.open())
    yield memory
    runner.run(memory.aclose())


def _texts(model_input: Any) -> str:
    return json.dumps(model_input)


def test_memorysession_is_an_sdk_session(memory):
    assert isinstance(MemorySession("s1", memory), Session)


def test_a_second_run_sees_the_first_runs_items_and_remember_finds_them(memory, backend_stores, runner):
    model = CannedModel(
        [assistant_message("Noted: you keep two beagles.")],
        [assistant_message("You keep two beagles.")],
    )
    agent = Agent(name="assistant", instructions="Be brief.", model=model)
    session = MemorySession("chat-1", memory)
    first = runner.run(Runner.run(agent, "I keep two beagles named Biscuit and Crumb.", session=session))
    assert first.final_output == "Noted: you keep two beagles."
    second = runner.run(Runner.run(agent, "What pets do I have?", session=session))
    assert second.final_output == "You keep two beagles."
    seen = _texts(model.inputs[1])
    assert "Biscuit and Crumb" in seen and "Noted: you keep two beagles." in seen

    items = runner.run(session.get_items())
    assert [i.get("role") for i in items] == ["user", "assistant", "user", "assistant"]
    rows = backend_stores.pg.fetch(
        "SELECT turn_index, role, content FROM conversation_logs WHERE user_id = 'u1' AND conversation_id = 'chat-1' "
        "ORDER BY turn_index"
    )
    assert [(r["turn_index"], r["role"]) for r in rows] == [
        (0, "user"),
        (1, "assistant"),
        (2, "user"),
        (3, "assistant"),
    ]
    assert rows[0]["content"] == "I keep two beagles named Biscuit and Crumb."
    found = AgentMemory("u1", stores=backend_stores).remember("what are the beagles called").relevant_turns
    assert ("chat-1", "I keep two beagles named Biscuit and Crumb.") in [(t.conversation_id, t.content) for t in found]


ITEMS: list[dict[str, Any]] = [
    {"role": "user", "content": "hello"},
    {"role": "user", "content": [{"type": "input_text", "text": "parts ✓"}]},
    {"type": "message", "role": "assistant", "id": "m1", "status": "completed",
     "content": [{"type": "output_text", "text": "hi there", "annotations": []}]},
    {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": "{\"q\": 1}"},
    {"type": "function_call_output", "call_id": "c1", "output": "42"},
    {"type": "reasoning", "id": "r1", "summary": []},
    {"role": "developer", "content": "be nice", "extra": {"nested": [1, 2.5, None, True]}},
]  # fmt: skip


def test_the_same_operations_give_the_same_answers_as_the_sdks_sqlitesession(memory, runner):
    rng = random.Random(7)
    ours, theirs = MemorySession("diff", memory), SQLiteSession("diff")
    other_ours, other_theirs = MemorySession("other", memory), SQLiteSession("other")

    async def both(name: str, *args: Any) -> None:
        mine = await getattr(ours, name)(*args)
        ref = await getattr(theirs, name)(*args)
        assert mine == ref, (name, args)

    async def scenario() -> None:
        await other_ours.add_items([{"role": "user", "content": "elsewhere"}])
        await other_theirs.add_items([{"role": "user", "content": "elsewhere"}])
        for _ in range(60):
            roll = rng.random()
            if roll < 0.4:
                await both("add_items", rng.sample(ITEMS, rng.randint(0, 3)))
            elif roll < 0.7:
                await both("get_items", rng.choice([None, 0, 1, 2, 5, 100, -1]))
            elif roll < 0.9:
                await both("pop_item")
            else:
                await both("clear_session")
        await both("get_items")
        assert await other_ours.get_items() == await other_theirs.get_items()  # sessions are apart

    runner.run(scenario())


def test_session_settings_limit_is_the_default_limit(memory, runner):
    session = MemorySession("lim", memory, session_settings=SessionSettings(limit=2))

    async def scenario() -> None:
        await session.add_items([{"role": "user", "content": f"m{i}"} for i in range(4)])
        assert [i["content"] for i in await session.get_items()] == ["m2", "m3"]
        assert len(await session.get_items(limit=10)) == 4

    runner.run(scenario())


def test_popped_and_cleared_items_leave_the_history_but_their_turns_stay_in_memory(memory, backend_stores, runner):
    session = MemorySession("pop", memory)

    async def scenario() -> None:
        await session.add_items([{"role": "user", "content": "my locker code is 4711"}])
        assert (await session.pop_item()) == {"role": "user", "content": "my locker code is 4711"}
        assert await session.pop_item() is None
        await session.add_items([{"role": "user", "content": "after the pop"}])
        assert await session.get_items() == [{"role": "user", "content": "after the pop"}]
        await session.clear_session()
        assert await session.get_items() == []

    runner.run(scenario())
    found = AgentMemory("u1", stores=backend_stores).remember("locker code").relevant_turns
    assert found[0].content == "my locker code is 4711"


def test_an_item_that_is_not_json_is_refused_and_nothing_is_written(memory, runner):
    session = MemorySession("bad", memory)

    async def scenario() -> None:
        with pytest.raises(ValidationError):
            await session.add_items([{"role": "user", "content": "ok"}, {"role": "user", "content": float("nan")}])
        assert await session.get_items() == []

    runner.run(scenario())


def test_concurrent_add_items_on_one_session_lose_nothing(memory, runner):
    session = MemorySession("busy", memory)

    async def scenario() -> None:
        await asyncio.gather(*(session.add_items([{"role": "user", "content": f"msg {i}"}]) for i in range(20)))
        items = await session.get_items()
        assert sorted(i["content"] for i in items) == sorted(f"msg {i}" for i in range(20))

    runner.run(scenario())


def test_the_runner_calls_the_memory_tools(memory, backend_stores, runner):
    model = CannedModel(
        [function_call("learn_fact", {"claim": "The user is vegetarian"}, call_id="t1")],
        [function_call("remember", {"query": "is the user vegetarian"}, call_id="t2")],
        [assistant_message("Yes, you are vegetarian.")],
    )
    agent = Agent(name="assistant", model=model, tools=memory_tools(memory))
    result = runner.run(Runner.run(agent, "Remember I'm vegetarian, then check.", session=MemorySession("t", memory)))
    assert result.final_output == "Yes, you are vegetarian."
    outputs = [i for i in model.inputs[2] if isinstance(i, dict) and i.get("type") == "function_call_output"]
    assert "learned fact" in outputs[0]["output"] and "The user is vegetarian" in outputs[1]["output"]
    facts = AgentMemory("u1", stores=backend_stores).remember("vegetarian").facts
    assert [f.claim for f in facts] == ["The user is vegetarian"]


def test_memory_tools_for_another_user_write_that_users_memory(memory, backend_stores, runner):
    [_, learn] = memory_tools(memory, user_id="u2")
    arguments = json.dumps({"claim": "The user speaks Basque"})
    context = ToolContext(None, tool_name="learn_fact", tool_call_id="c1", tool_arguments=arguments)
    runner.run(learn.on_invoke_tool(context, arguments))
    assert [f.claim for f in AgentMemory("u2", stores=backend_stores).remember("Basque").facts] == [
        "The user speaks Basque"
    ]
    assert AgentMemory("u1", stores=backend_stores).remember("Basque").facts == []


def test_session_turns_are_consolidated_into_facts_derived_from_them(memory, backend_stores, runner):
    from datetime import timedelta

    from memory_runtime.batch.consolidate import consolidate_window
    from memory_runtime.domain.models import now

    session = MemorySession("consolidated", memory)
    runner.run(session.add_items([{"role": "user", "content": "Hi, my name is Priya and I work at Acme Corp."}]))
    counts = consolidate_window(backend_stores, now() - timedelta(hours=1), now() + timedelta(hours=1))
    assert counts["turns_read"] == 1
    derived = backend_stores.graph.read(
        "MATCH (f:Fact)-[:DERIVED_FROM]->(t:Turn) WHERE f.user_id = 'u1' "
        "RETURN f.claim AS claim, t.conversation_id AS conversation"
    )
    assert ("User works at Acme Corp", "consolidated") in {(r["claim"], r["conversation"]) for r in derived}


def test_the_sdks_encryptedsession_wraps_a_memorysession(memory, backend_stores, runner):
    from agents.extensions.memory.encrypt_session import EncryptedSession

    inner = MemorySession("sealed", memory)
    sealed = EncryptedSession("sealed", underlying_session=inner, encryption_key="k" * 43)  # a test key
    items = [{"role": "user", "content": "my passport number is X1234567"}]
    runner.run(sealed.add_items(items))
    assert runner.run(sealed.get_items()) == items
    rows = backend_stores.pg.fetch("SELECT content FROM conversation_logs WHERE conversation_id = 'sealed'")
    assert len(rows) == 1 and "X1234567" not in rows[0]["content"]  # memory holds only the envelope
    assert runner.run(sealed.pop_item()) == items[0] and runner.run(inner.get_items()) == []
