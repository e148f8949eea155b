"""Working memory on real Redis: bounded turns, per-entry context TTLs, namespacing and erasure."""

import time

import pytest

from memory_runtime.domain.errors import ValidationError
from memory_runtime.memory.working import WorkingMemory, forget_user
from memory_runtime.stores.redis import RedisStore

TTL_S = 600


def turn(index: int, conversation: str = "c1") -> dict:
    return {
        "id": f"{conversation}-t{index}",
        "index": index,
        "role": "user" if index % 2 == 0 else "assistant",
        "content": f"message {index}",
        "timestamp": f"2024-05-01T12:00:{index:02d}+00:00",
    }


def wm(redis: RedisStore, user: str = "u1", conversation: str = "c1", max_turns: int = 5) -> WorkingMemory:
    return WorkingMemory(redis, user, conversation, max_turns=max_turns, ttl_s=TTL_S)


def keys_of(redis: RedisStore) -> set[str]:
    """Every key under the test's prefix (SCAN is fine in a test)."""
    return {k.decode() for k in redis.client.scan_iter(match=f"{redis.prefix}:*", count=1000)}


@pytest.fixture
def redis(stores) -> RedisStore:
    return stores.redis


def test_recent_turns_are_bounded_and_ordered(redis):
    memory = wm(redis, max_turns=5)
    memory.push_turns([turn(i) for i in range(4)])
    memory.push_turns([turn(i) for i in range(4, 8)])

    assert [t["index"] for t in memory.recent_turns()] == [3, 4, 5, 6, 7]
    assert memory.recent_turns()[-1] == turn(7)


def test_recent_turns_returns_the_last_n_oldest_first(redis):
    memory = wm(redis)
    memory.push_turns([turn(i) for i in range(5)])

    assert [t["index"] for t in memory.recent_turns(2)] == [3, 4]
    assert memory.recent_turns(0) == []


def test_pushing_a_turn_again_keeps_one_copy(redis):
    memory = wm(redis)
    assert memory.push_turns([turn(0), turn(1)]) == 2

    assert memory.push_turns([turn(1), turn(2)]) == 1
    assert [t["index"] for t in memory.recent_turns()] == [0, 1, 2]


def test_turns_arriving_out_of_order_are_kept_in_index_order(redis):
    memory = wm(redis, max_turns=3)
    memory.push_turns([turn(5), turn(7)])

    memory.push_turns([turn(6), turn(1)])  # e.g. a re-projection of older turns

    assert [t["index"] for t in memory.recent_turns()] == [5, 6, 7]


def test_push_turns_rejects_a_turn_without_id_or_index(redis):
    with pytest.raises(ValidationError):
        wm(redis).push_turns([{"content": "no id"}])


def test_context_entries_expire_individually(redis):
    memory = wm(redis)
    memory.set_context("short", "soon gone", ttl_s=0.2)
    memory.set_context("long", {"topic": "Cython"}, ttl_s=60)

    time.sleep(0.3)

    assert memory.get_context() == {"long": {"topic": "Cython"}}


def test_context_values_round_trip_as_json(redis):
    memory = wm(redis)
    value = {"n": 3, "items": ["a", "é"], "flag": True, "none": None}
    memory.set_context("state", value)

    assert memory.get_context() == {"state": value}


def test_setting_a_context_entry_again_replaces_value_and_ttl(redis):
    memory = wm(redis)
    memory.set_context("k", 1, ttl_s=0.2)
    memory.set_context("k", 2, ttl_s=60)

    time.sleep(0.3)

    assert memory.get_context() == {"k": 2}


def test_context_rejects_values_that_are_not_json(redis):
    with pytest.raises(ValidationError, match="JSON"):
        wm(redis).set_context("k", object())


def test_delete_context_removes_one_entry(redis):
    memory = wm(redis)
    memory.set_context("a", 1)
    memory.set_context("b", 2)

    assert memory.delete_context("a") is True
    assert memory.delete_context("a") is False
    assert memory.get_context() == {"b": 2}


def test_a_context_entry_outlives_a_shorter_conversation_ttl(redis):
    memory = WorkingMemory(redis, "u1", "c1", max_turns=5, ttl_s=1)
    memory.set_context("k", "v", ttl_s=60)

    assert redis.client.pttl(memory.key("ctx")) > 50_000
    assert redis.client.pttl(redis.key("wm", "u1", "keys")) > 50_000


def test_thoughts_are_bounded_and_ordered(redis):
    memory = WorkingMemory(redis, "u1", "c1", max_turns=5, ttl_s=TTL_S, max_thoughts=3)
    for i in range(5):
        memory.add_thought(f"thought {i}")

    assert memory.thoughts() == ["thought 2", "thought 3", "thought 4"]
    assert memory.thoughts(1) == ["thought 4"]


def test_active_goal_can_be_set_and_cleared(redis):
    memory = wm(redis)
    assert memory.active_goal() is None

    memory.set_active_goal("g1")
    assert memory.active_goal() == "g1"

    memory.set_active_goal(None)
    assert memory.active_goal() is None


def test_keys_are_namespaced_by_user_and_conversation(redis):
    wm(redis, "u1", "c1").push_turns([turn(0)])
    wm(redis, "u1", "c2").set_context("k", 1)
    wm(redis, "u2", "c1").add_thought("hmm")

    assert keys_of(redis) == {
        redis.key("wm", "u1", "c1", "turns"),
        redis.key("wm", "u1", "c2", "ctx"),
        redis.key("wm", "u1", "c2", "ctx_exp"),
        redis.key("wm", "u2", "c1", "thoughts"),
        redis.key("wm", "u1", "keys"),
        redis.key("wm", "u2", "keys"),
    }
    assert wm(redis, "u2", "c1").recent_turns() == []
    assert wm(redis, "u1", "c1").get_context() == {}


def test_ids_containing_colons_cannot_collide(redis):
    wm(redis, "a:b", "c").set_active_goal("first")
    wm(redis, "a", "b:c").set_active_goal("second")

    assert wm(redis, "a:b", "c").active_goal() == "first"
    assert wm(redis, "a", "b:c").active_goal() == "second"


def test_every_working_memory_key_expires(redis):
    memory = wm(redis)
    memory.push_turns([turn(0)])
    memory.set_context("k", 1, ttl_s=30)
    memory.add_thought("t")
    memory.set_active_goal("g")

    assert all(0 < redis.client.pttl(k) <= TTL_S * 1000 for k in keys_of(redis))


def test_a_write_refreshes_the_ttl_of_the_conversation(redis):
    memory = wm(redis)
    memory.push_turns([turn(0)])
    redis.client.pexpire(memory.key("turns"), 5_000)

    memory.add_thought("still talking")

    assert redis.client.pttl(memory.key("turns")) > 5_000


def test_clear_removes_only_this_conversation(redis):
    wm(redis, "u1", "c1").push_turns([turn(0)])
    wm(redis, "u1", "c1").set_active_goal("g")
    wm(redis, "u1", "c2").push_turns([turn(0, "c2")])

    assert wm(redis, "u1", "c1").clear() == 2

    assert wm(redis, "u1", "c1").recent_turns() == []
    assert wm(redis, "u1", "c1").active_goal() is None
    assert len(wm(redis, "u1", "c2").recent_turns()) == 1


def test_forget_user_removes_every_working_memory_key_and_only_that_users(redis):
    for conversation in ("c1", "c2"):
        memory = wm(redis, "u1", conversation)
        memory.push_turns([turn(0, conversation)])
        memory.set_context("k", 1)
        memory.add_thought("t")
        memory.set_active_goal("g")
    wm(redis, "u2", "c1").push_turns([turn(0)])
    others = {k for k in keys_of(redis) if ":u2:" in k}

    deleted = forget_user(redis, "u1")

    assert deleted == 2 * 5  # turns, ctx, ctx_exp, thoughts, goal per conversation
    assert keys_of(redis) == others
    assert len(wm(redis, "u2", "c1").recent_turns()) == 1


def test_forget_user_of_an_unknown_user_deletes_nothing(redis):
    wm(redis, "u1", "c1").push_turns([turn(0)])

    assert forget_user(redis, "nobody") == 0
    assert len(wm(redis, "u1", "c1").recent_turns()) == 1


def test_forget_user_deletes_many_conversations_in_batches(redis, monkeypatch):
    monkeypatch.setattr("memory_runtime.memory.working._DELETE_BATCH", 3)
    for conversation in ("c1", "c2", "c3"):
        wm(redis, "u1", conversation).push_turns([turn(0, conversation)])

    assert forget_user(redis, "u1") == 3
    assert keys_of(redis) == set()
