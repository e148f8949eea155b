"""Injection and isolation: hostile strings are data, every read is scoped to its user, erasure is complete.

User ids here are fixed-width (t00x, t01x, ...) so that none is a substring of another: the Redis audit
looks for keys *containing* a user id.
"""

import random
import time
from datetime import timedelta

import pytest
from reliability_helpers import footprint, graph_turn_ids, is_empty, pg_turn_ids, redis_keys, turns

from memory_runtime.api import AgentMemory
from memory_runtime.domain.errors import (
    ConversationOwnershipError,
    InvalidLabel,
    InvalidRelationshipType,
    NotFoundError,
    ValidationError,
)
from memory_runtime.domain.models import Entity, Goal, Turn, now
from memory_runtime.memory.reflection import ReflectionQueue
from memory_runtime.stores.bundle import Stores

PAYLOADS = [
    "'}) MATCH (n) DETACH DELETE n //",
    '"}) MATCH (n) SET n.user_id = "victim" //',
    "x' OR 1=1 --",
    "'); DROP TABLE conversation_logs; --",
    "`) RETURN 1 //",
    "`}) MATCH (n) SET n.user_id = 'victim' //",
    "]->(x) DETACH DELETE x //",
    "$user_id",
    "@user_id:{*} | *",
    "*:* OR user_id:*",
    "\\' OR '1'='1",
]


def all_nodes(stores: Stores) -> int:
    return stores.graph.read("MATCH (n) RETURN count(n) AS n")[0]["n"]


def nodes_without_owner(stores: Stores) -> int:
    return stores.graph.read("MATCH (n) WHERE n.user_id IS NULL RETURN count(n) AS n")[0]["n"]


def index_count(stores: Stores) -> int:
    return len(stores.graph.read("CALL db.indexes()"))


def populate_victim(memory: AgentMemory) -> dict:
    memory.store_turns(turns("victim-conv", 4, text="the victim talks about python and cython"))
    ada = memory.upsert_entity(Entity(name="Ada", type="Person", description="victim's friend")).id
    acme = memory.upsert_entity(Entity(name="Acme", type="Organization")).id
    memory.relate(ada, acme, "WORKS_FOR")
    memory.learn_fact("Ada works at Acme", entity_ids=[ada, acme])
    memory.add_goal(Goal(description="victim ships the release"))
    memory.learn_strategy("victim searches the docs", "debugging", ["search"])
    memory.set_preference("language", "python")
    memory.record_tool_usage("search", {"q": "x"}, {"hits": 1}, True, 5.0)
    memory.set_working_context("private_note", "victim-only")
    return {"ada": ada, "acme": acme}


def test_injection_payloads_in_every_string_parameter_are_inert(stores):
    victim = AgentMemory("victim", "victim-conv", stores=stores)
    populate_victim(victim)
    before = footprint(stores, "victim")
    victim_context = victim.get_user_context()
    victim_turns = sorted(r["content"] for r in stores.pg.fetch("SELECT content FROM conversation_logs"))
    nodes_before, indexes_before = all_nodes(stores), index_count(stores)

    attacker = AgentMemory("attacker", "attacker-conv", stores=stores)
    mine = attacker.upsert_entity(Entity(name="Mine", type="Person")).id
    theirs = attacker.upsert_entity(Entity(name="Theirs", type="Person")).id
    for i, p in enumerate(PAYLOADS):
        turn = Turn(conversation_id="attacker-conv", index=i, role="user", content=p, metadata={p: p})
        attacker.store_turn(turn)
        entity = attacker.upsert_entity(Entity(name=p, type="Concept", aliases=[p + " alias"], description=p,
                                               attributes={p: p})).id  # fmt: skip
        attacker.relate(mine, theirs, "KNOWS", {"note": p})
        fact = attacker.learn_fact(p, subject=p, predicate="likes", object=p, entity_ids=[entity]).id
        goal = attacker.add_goal(Goal(description=p)).id
        strategy = attacker.learn_strategy(p, p, [p])
        attacker.record_tool_usage(p, {p: p}, p, True, 1.0)
        attacker.set_preference(p, p)
        attacker.profile.add_interest(p)
        attacker.set_working_context(p, p)
        attacker.reflect(p, True, note=p)

        # Stored as data, exactly.
        pg = stores.pg.fetch("SELECT content, metadata FROM conversation_logs WHERE id = %s", (turn.id,))[0]
        assert pg == {"content": p, "metadata": {p: p}}
        assert stores.graph.read("MATCH (t:Turn {id: $id}) RETURN t.content AS c", {"id": turn.id}) == [{"c": p}]
        assert [e["id"] for e in attacker.semantic.find_entities(p)] == [entity]
        assert attacker.semantic.get_entity(entity)["description"] == p
        assert attacker.semantic.get_entity(entity)["attributes"][p] == p  # names differing by quotes merge
        got = attacker.semantic.get_fact(fact)
        assert (got["claim"], got["subject"], got["object"]) == (p, p, p)
        assert attacker.goals.get_goal(goal)["description"] == p
        assert attacker.get_tool_stats(p)[0]["usage_count"] == 1
        assert strategy in [s["id"] for s in attacker.what_worked_for(p, top_k=100)]
        assert attacker.get_user_context()["preferences"][p] == p
        assert attacker.get_working_context()[p] == p
        # Rejected by the whitelists.
        with pytest.raises(InvalidRelationshipType):
            attacker.relate(mine, theirs, p)
        with pytest.raises((InvalidLabel, ValueError)):
            attacker.upsert_entity(Entity(name="typed", type=p))
        with pytest.raises(ValidationError):
            attacker.relate(mine, theirs, "KNOWS", {p: 1})
        # Searched as words: the victim's matching turns stay invisible.
        for query in (p, p + " python cython victim"):
            bundle = attacker.remember(query)
            assert {t["conversation_id"] for t in bundle.relevant_turns} <= {"attacker-conv"}
            assert not {f["id"] for f in bundle.facts} & {f["id"] for f in victim.semantic.list_facts()}

    assert footprint(stores, "victim") == before
    assert victim.get_user_context() == victim_context
    assert victim.get_working_context() == {"private_note": "victim-only"}
    contents = sorted(
        r["content"] for r in stores.pg.fetch("SELECT content FROM conversation_logs WHERE user_id = 'victim'")
    )
    assert contents == [c for c in victim_turns]  # the victim's log is as it was
    assert nodes_without_owner(stores) == 0
    owners = stores.graph.read("MATCH (n) RETURN DISTINCT n.user_id AS u")
    assert sorted(r["u"] for r in owners) == ["attacker", "victim"]
    assert all_nodes(stores) - nodes_before == sum(footprint(stores, "attacker")["graph"].values())
    assert index_count(stores) == indexes_before


# ---- many tenants -------------------------------------------------------------------------------------

USERS = [f"t{i:02d}x" for i in range(24)]
SENTENCES = [
    "I love Python and Cython",
    "Ada works at Acme on the compiler",
    "we should search the docs before debugging",
    "the release ships on Friday",
    "Acme moved to Berlin last year",
    "Cython makes the hot loop fast",
]


def populate(memory: AgentMemory, rng: random.Random) -> dict[str, set[str]]:
    """Overlapping data for one user (same entity names, claims and texts as everybody); the ids it owns."""
    u = memory.user_id
    own: dict[str, set[str]] = {k: set() for k in ("turns", "entities", "facts", "goals", "strategies", "convs")}
    for k in range(2):
        conv = f"{u}-conv{k}"
        batch = [
            Turn(conversation_id=conv, index=i, role="user" if i % 2 == 0 else "assistant",
                 content=f"{rng.choice(SENTENCES)} ({u} turn {i})", timestamp=now() - timedelta(minutes=10 - i))
            for i in range(rng.randint(3, 6))
        ]  # fmt: skip
        memory.store_turns(batch)
        own["turns"] |= {t.id for t in batch}
        own["convs"].add(conv)
    ada = memory.upsert_entity(Entity(name="Ada", type="Person", aliases=["Ada L."])).id
    acme = memory.upsert_entity(Entity(name="Acme", type="Organization")).id
    berlin = memory.upsert_entity(Entity(name="Berlin", type="Location")).id
    memory.relate(ada, acme, "WORKS_FOR")
    memory.relate(acme, berlin, "LOCATED_IN")
    own["entities"] |= {ada, acme, berlin}
    own["facts"].add(memory.learn_fact("Ada works at Acme", entity_ids=[ada, acme]).id)
    own["facts"].add(memory.learn_fact(rng.choice(SENTENCES), entity_ids=[acme]).id)
    own["facts"].add(memory.learn_fact(f"Ada lives in {rng.choice(['Berlin', 'Paris'])}", subject="Ada",
                                       predicate="lives_in", object=rng.choice(["Berlin", "Paris"])).id)  # fmt: skip
    own["goals"].add(memory.add_goal(Goal(description="ship the release", priority=rng.randint(1, 5))).id)
    own["strategies"].add(memory.learn_strategy("search the docs first", "debugging", ["search"], success=True))
    own["strategies"].add(memory.learn_strategy(rng.choice(SENTENCES), "debugging", ["search", "read"]))
    for k in range(rng.randint(1, 4)):
        memory.record_tool_usage("search", {"q": k}, {"hits": k}, True, 3.0)
    memory.set_preference("language", f"python for {u}")
    memory.set_working_context("step", f"{u} is debugging")
    memory.reflect(f"{u} fixed the bug", True)
    return own


@pytest.fixture
def tenants(stores) -> dict[str, dict[str, set[str]]]:
    rng = random.Random(20261123)
    return {u: populate(AgentMemory(u, f"{u}-conv0", stores=stores), rng) for u in USERS}


def test_no_read_path_returns_another_users_data(stores, tenants):
    everything = {k: set().union(*(o[k] for o in tenants.values())) for k in next(iter(tenants.values()))}
    for u, own in tenants.items():
        m = AgentMemory(u, f"{u}-conv0", stores=stores)
        sem = m.semantic

        bundle = m.remember("Python Cython Ada Acme Berlin search the docs release debugging", top_k=50)
        assert bundle.relevant_turns and {t["id"] for t in bundle.relevant_turns} <= own["turns"]
        assert bundle.facts and {f["id"] for f in bundle.facts} <= own["facts"]
        assert bundle.entities and {e["id"] for e in bundle.entities} <= own["entities"]
        assert bundle.strategies and {s["id"] for s in bundle.strategies} <= own["strategies"]
        assert [g["id"] for g in bundle.active_goals] == list(own["goals"])
        assert bundle.user_context["preferences"] == {"language": f"python for {u}"}
        as_of = m.remember("Ada works at Acme", as_of=now(), time_window_hours=24)
        assert {f["id"] for f in as_of.facts} <= own["facts"] and {t["id"] for t in as_of.relevant_turns} <= own[
            "turns"
        ]

        [ada] = sem.find_entities("Ada")
        assert ada["id"] in own["entities"] and [e["id"] for e in sem.find_entities("ada l.")] == [ada["id"]]
        assert {n["id"] for n in sem.neighbours(ada["id"], depth=2)} <= own["entities"]
        assert {f["id"] for f in sem.facts_about(ada["id"], include_invalid=True)} <= own["facts"]
        assert {f["id"] for f in sem.facts_as_of(now())} <= own["facts"]
        assert {f["id"] for f in sem.list_facts(include_invalid=True)} == own["facts"]
        assert {s["id"] for s in m.what_worked_for("debugging", top_k=100)} <= own["strategies"]
        stats = m.get_tool_stats("search")[0]["usage_count"]
        audit = stores.pg.fetch("SELECT count(*) AS n FROM tool_invocations WHERE user_id = %s", (u,))[0]["n"]
        assert stats == audit
        assert {g["id"] for g in m.get_active_goals()} == own["goals"]
        assert m.get_user_context()["preferences"] == {"language": f"python for {u}"}
        for conv in own["convs"]:
            assert {t["id"] for t in m.recent_turns(conversation_id=conv)} <= own["turns"]
        assert m.get_working_context() == {"step": f"{u} is debugging"}

        others = {k: everything[k] - own[k] for k in everything}
        some_other = random.Random(u).choice(sorted(set(USERS) - {u}))
        for eid in sorted(others["entities"])[:3]:
            with pytest.raises(NotFoundError):
                sem.get_entity(eid)
            with pytest.raises(NotFoundError):
                sem.neighbours(eid)
            with pytest.raises(NotFoundError):
                sem.facts_about(eid)
        for fid in sorted(others["facts"])[:3]:
            with pytest.raises(NotFoundError):
                sem.get_fact(fid)
        for gid in sorted(others["goals"])[:3]:
            with pytest.raises(NotFoundError):
                m.goals.get_goal(gid)
        assert m.recent_turns(conversation_id=f"{some_other}-conv0") == []
        assert AgentMemory(u, f"{some_other}-conv0", stores=stores).get_working_context() == {}


def test_no_write_path_reaches_another_users_data(stores, tenants):
    before = {u: footprint(stores, u) for u in USERS}
    attacker, victim = USERS[0], USERS[1]
    m = AgentMemory(attacker, stores=stores)
    v = tenants[victim]
    v_entities, v_facts, v_goals, v_strategies = (sorted(v[k]) for k in ("entities", "facts", "goals", "strategies"))
    own_goal = next(iter(tenants[attacker]["goals"]))
    own_entity = next(iter(tenants[attacker]["entities"]))
    with pytest.raises(ConversationOwnershipError):
        m.store_turn(Turn(conversation_id=f"{victim}-conv0", index=99, role="user", content="hijack"))
    with pytest.raises(NotFoundError):
        m.relate(v_entities[0], v_entities[1], "KNOWS")
    with pytest.raises(NotFoundError):
        m.relate(own_entity, v_entities[0], "KNOWS")
    with pytest.raises(NotFoundError):
        m.learn_fact("a planted fact", entity_ids=[v_entities[0]])
    with pytest.raises(NotFoundError):
        m.learn_fact("a superseding fact", supersedes=[v_facts[0]])
    with pytest.raises(NotFoundError):
        m.semantic.invalidate_fact(v_facts[0])
    with pytest.raises(NotFoundError):
        m.update_goal_status(v_goals[0], "abandoned")
    with pytest.raises(NotFoundError):
        m.add_blocker(own_goal, v_goals[0])
    with pytest.raises(NotFoundError):
        m.add_goal(Goal(description="a child", parent_id=v_goals[0]))
    with pytest.raises(NotFoundError):
        m.reinforce_strategy(v_strategies[0], False)
    with pytest.raises(NotFoundError):
        m.record_tool_usage("search", {}, None, True, 1.0, turn_id=sorted(v["turns"])[0])
    with pytest.raises(ConversationOwnershipError):
        m.record_tool_usage("search", {}, None, True, 1.0, conversation_id=f"{victim}-conv0")
    for u in USERS[1:]:
        assert footprint(stores, u) == before[u]


def test_forget_user_leaves_nothing_in_any_store_and_spares_everybody_else(stores, tenants):
    limits = {"rate_limit_writes_per_minute": 10_000, "rate_limit_reads_per_minute": 10_000}
    limited = Stores(stores.settings.model_copy(update=limits), stores.pg, stores.graph, stores.redis, stores.embedder)
    for u in USERS:  # rate-limit buckets are keyed by user: make sure there is one to erase
        AgentMemory(u, stores=limited).get_active_goals()
    forgotten = sorted(random.Random(7).sample(USERS, 5))
    before = {u: footprint(stores, u) for u in USERS}
    # a rate-limit bucket expires by itself once it would be full again: when each may be gone on its own
    expires_at = {
        key: time.monotonic() + stores.redis.client.pttl(key) / 1000
        for u in USERS
        for key in before[u]["redis_keys"]
        if ":rl:" in key
    }
    for u in forgotten:
        assert not is_empty(before[u]) and redis_keys(stores, u)

    for u in forgotten:
        counts = AgentMemory(u, stores=stores).forget_user()
        assert counts["postgres.conversation_logs"] == len(tenants[u]["turns"])
    for u in forgotten:
        assert is_empty(footprint(stores, u)), footprint(stores, u)  # every user_id table, node and key
        assert stores.graph.read("MATCH (n) WHERE n.user_id = $u RETURN count(n) AS n", {"u": u}) == [{"n": 0}]
        assert not any(
            r["conversation_id"].startswith(u) for r in stores.pg.fetch("SELECT conversation_id FROM conversation_logs")
        )
    for u in sorted(set(USERS) - set(forgotten)):
        after = footprint(stores, u)
        expired = [k for k in before[u]["redis_keys"] if k in expires_at and time.monotonic() >= expires_at[k]]
        kept = [k for k in before[u]["redis_keys"] if k not in expired or k in after["redis_keys"]]
        assert after == {**before[u], "redis_keys": kept}

    again = AgentMemory(forgotten[0], stores=stores).forget_user()  # re-runnable: nothing left to delete
    assert not any(again.values()), again
    AgentMemory(forgotten[0], stores=stores).reproject()
    from memory_runtime.memory.episodic import reproject

    reproject(stores)  # the episodic_graph path: a re-projection cannot bring a forgotten user back
    for u in forgotten:
        assert pg_turn_ids(stores, u) == [] and graph_turn_ids(stores, u) == []


def test_reflection_jobs_carry_their_own_user(stores, tenants):
    jobs = ReflectionQueue(stores.redis).read("isolation-check", "c1", count=1000)
    assert sorted(j.user_id for j in jobs) == sorted(USERS)
    assert all(j.outcome == f"{j.user_id} fixed the bug" for j in jobs)
