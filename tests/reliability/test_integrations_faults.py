"""The framework integrations when the graph goes down: PostgreSQL is the record, so nothing a caller gave is
lost, and the graph catches up once it is back."""

import asyncio

import pytest
from reliability_helpers import open_stores

from memory_runtime.api import AgentMemory
from memory_runtime.domain.errors import StoreUnavailableError
from memory_runtime.integrations.langgraph import MemoryStore
from memory_runtime.integrations.openai_agents import MemorySession


def test_a_fact_like_item_put_while_the_graph_is_down_is_kept_and_learned_on_its_next_put(settings, graph_server):
    own = graph_server.configure(settings, connect_timeout_s=1.0)
    item = {"content": "The user sails a catamaran"}
    with open_stores(own) as stores:
        store, memory = MemoryStore(stores), AgentMemory("u1", stores=stores)
        graph_server.kill()
        with pytest.raises(StoreUnavailableError):
            store.put(("u1", "memories"), "boat", item)
        assert store.get(("u1", "memories"), "boat").value == item  # durable in PostgreSQL
        graph_server.start()
        assert memory.remember("catamaran").facts == []
        store.put(("u1", "memories"), "boat", item)  # the same item again: its fact is learned now
        assert [f.claim for f in memory.remember("catamaran").facts] == [item["content"]]


def test_session_items_added_while_the_graph_is_down_stay_in_the_session_and_are_projected_later(
    settings, graph_server
):
    own = graph_server.configure(settings, connect_timeout_s=1.0)
    items = [{"role": "user", "content": "book the ferry"}, {"role": "assistant", "content": "booked"}]
    with open_stores(own) as stores:
        memory = AgentMemory("u1", stores=stores)
        session = MemorySession("s", memory)
        graph_server.kill()
        asyncio.run(session.add_items(items))  # the turns are in the log; the projection failure is logged
        assert asyncio.run(session.get_items()) == items
        graph_server.start()
        assert memory.reproject().projected == 2
