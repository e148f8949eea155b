"""conversation_turns and episodic_graph on a real day of turns."""

from datetime import timedelta

from dagster_helpers import DAY, DAY_START, materialize, metadata, store_conversation

from memory_assets.episodic import conversation_turns, episodic_graph


def _graph_turn_ids(stores) -> set[str]:
    return {r["id"] for r in stores.graph.read("MATCH (t:Turn) RETURN t.id AS id")}


def test_episodic_graph_reprojects_a_turn_missing_from_the_graph(stores, memory, instance):
    ids = store_conversation(stores, "u1", "c1", DAY_START + timedelta(hours=9), ["hi", "hello", "bye"])
    store_conversation(stores, "u1", "c-next-day", DAY_START + timedelta(days=1), ["tomorrow"])
    stores.graph.write("MATCH (t:Turn {id: $id}) DETACH DELETE t", {"id": ids[1]})
    assert ids[1] not in _graph_turn_ids(stores)

    result = materialize([episodic_graph], memory, instance)

    assert result.success
    assert ids[1] in _graph_turn_ids(stores)
    meta = metadata(result, "episodic_graph")
    assert meta["turns_checked"] == 3  # the next day's turn is outside the window
    assert meta["turns_reprojected"] == 1
    assert meta["graph_turns"] == meta["postgres_turns"] == 3
    linked = stores.graph.read(
        "MATCH (c:Conversation {id: 'c1'})-[:HAS_TURN]->(t:Turn {id: $id}) RETURN count(t) AS n",
        {"id": ids[1]},
    )
    assert linked[0]["n"] == 1


def test_conversation_turns_observes_the_window(stores, memory, instance):
    store_conversation(stores, "u1", "c1", DAY_START + timedelta(hours=1), ["a", "b"])
    store_conversation(stores, "u2", "c2", DAY_START + timedelta(hours=2), ["c"])
    store_conversation(stores, "u2", "c3", DAY_START - timedelta(hours=1), ["the day before"])

    result = materialize([conversation_turns], memory, instance)

    meta = metadata(result, "conversation_turns")
    assert (meta["turns"], meta["conversations"], meta["users"]) == (3, 2, 2)
    assert DAY in meta["preview"]
