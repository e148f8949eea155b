"""GraphStore contract: the same behaviour on FalkorDB and (with NEO4J_URI) on Neo4j."""

import logging
import math

import pytest

from memory_runtime.domain.errors import GraphQueryError, StoreUnavailableError
from memory_runtime.stores.graph import open_graph
from memory_runtime.stores.graph.queries import retrieval as q
from memory_runtime.stores.graph.schema import VectorIndex

DIMS = 64


def _unit(i: int, j: int | None = None) -> list[float]:
    v = [0.0] * DIMS
    v[i] = 1.0
    if j is not None:
        v[j] = 1.0
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def _turn(stores, tid: str, user: str, content: str, vec: list[float]) -> None:
    d = stores.graph.dialect
    stores.graph.write(
        f"CREATE (t:Turn {{id: $id, user_id: $user, conversation_id: 'c', index: 0, role: 'user', "
        f"content: $content, timestamp: 1}}) SET t.embedding = {d.vector_value('vec')}",
        {"id": tid, "user": user, "content": content, "vec": vec},
    )


def test_rows_come_back_as_plain_dicts_of_scalars_lists_and_maps(backend_stores):
    rows = backend_stores.graph.read("RETURN 1 AS n, 'x' AS s, [1, 2] AS l, {a: 1, b: 'two'} AS m, null AS z")
    assert rows == [{"n": 1, "s": "x", "l": [1, 2], "m": {"a": 1, "b": "two"}, "z": None}]
    rows = backend_stores.graph.read(
        "RETURN -7 AS neg, 1.5 AS f, true AS yes, false AS no, 'ünï ✓' AS u, [] AS empty, {} AS none, "
        "[{k: [1, 'a', null, 2.25]}] AS nested"
    )
    assert rows == [
        {"neg": -7, "f": 1.5, "yes": True, "no": False, "u": "ünï ✓", "empty": [], "none": {},
         "nested": [{"k": [1, "a", None, 2.25]}]}
    ]  # fmt: skip
    assert type(rows[0]["nested"][0]) is dict and type(rows[0]["yes"]) is bool and type(rows[0]["f"]) is float


def test_falkordb_values_outside_the_contract_still_decode(stores):
    """Nodes (and other values the fast row decoder leaves alone) go through the client's own parser."""
    stores.graph.write("CREATE (:Entity {id: 'e1', user_id: 'u', name: 'Biscuit'})")
    [row] = stores.graph.read("MATCH (e:Entity {id: 'e1'}) RETURN e, e.name AS name, {n: 1} AS m")
    assert row["name"] == "Biscuit" and row["m"] == {"n": 1}
    assert row["e"].labels == ["Entity"] and row["e"].properties["name"] == "Biscuit"


def test_parameters_are_data_never_cypher(backend_stores):
    evil = "x'}) DETACH DELETE n //"
    backend_stores.graph.write("CREATE (:Entity {id: $id, user_id: 'u', name: $name})", {"id": "e1", "name": evil})
    assert backend_stores.graph.read("MATCH (e:Entity {id: 'e1'}) RETURN e.name AS name") == [{"name": evil}]


def test_parameters_encoded_ahead_write_what_plain_parameters_write(backend_stores):
    """`encode` (what a bulk writer runs while the previous batch is on the server) changes nothing written."""
    graph = backend_stores.graph
    cypher = "UNWIND $rows AS r CREATE (:Entity {id: $u + r.id, user_id: $u, name: r.name, w: r.w})"
    read = "MATCH (e:Entity) WHERE e.user_id = $u RETURN e.name AS name, e.w AS w ORDER BY e.id"
    rows = [{"id": f"e{i}", "name": f'it\'s "{i}" ✓', "w": [0.5, i / 3, -1e-7]} for i in range(3)]
    graph.write(cypher, {"rows": rows, "u": "plain"})
    graph.write(cypher, graph.encode({"rows": rows, "u": "encoded"}))
    stored = graph.read(read, {"u": "encoded"})
    assert stored == graph.read(read, {"u": "plain"}) and [r["name"] for r in stored] == [r["name"] for r in rows]


def test_vector_scores_are_similarities_in_zero_one_best_first(backend_stores):
    _turn(backend_stores, "same", "u", "a", _unit(0))
    _turn(backend_stores, "near", "u", "b", _unit(0, 1))
    _turn(backend_stores, "orth", "u", "c", _unit(5))
    rows = backend_stores.graph.read(
        q.turn_vector(backend_stores.graph.dialect),
        {"vec": _unit(0), "k": 10, "limit": 10, "user_id": "u", "since": None, "until": None},
    )
    scores = {r["turn"]["id"]: r["score"] for r in rows}
    assert [r["turn"]["id"] for r in rows] == ["same", "near", "orth"]
    assert scores["same"] == pytest.approx(1.0, abs=1e-3)
    assert scores["near"] == pytest.approx((1 + math.cos(math.pi / 4)) / 2, abs=1e-3)
    assert scores["orth"] == pytest.approx(0.5, abs=1e-3)


def test_vector_search_never_returns_another_users_nodes(backend_stores):
    _turn(backend_stores, "mine", "u1", "a", _unit(1))
    _turn(backend_stores, "theirs", "u2", "a", _unit(0))
    rows = backend_stores.graph.read(
        q.turn_vector(backend_stores.graph.dialect),
        {"vec": _unit(0), "k": 10, "limit": 10, "user_id": "u1", "since": None, "until": None},
    )
    assert [r["turn"]["id"] for r in rows] == ["mine"]


def test_fulltext_search_matches_any_term_and_is_scoped(backend_stores):
    _turn(backend_stores, "t1", "u1", "We compiled the parser with Cython", _unit(0))
    _turn(backend_stores, "t2", "u1", "Lisbon is sunny", _unit(1))
    _turn(backend_stores, "t3", "u2", "Cython for another user", _unit(2))
    d = backend_stores.graph.dialect
    rows = backend_stores.graph.read(
        q.turn_fulltext(d),
        {"q": d.fulltext_query("what about cython?"), "k": 10, "user_id": "u1", "since": None, "until": None},
    )
    assert [r["turn"]["id"] for r in rows] == ["t1"]


def test_fulltext_search_matches_word_forms_alike_on_both_backends(backend_stores):
    """Both indexes stem English (RediSearch's default; the `english` analyzer on Neo4j) and drop the same 33
    stopwords, so a question finds the turn that words it differently — the candidates BM25 then scores."""
    _turn(backend_stores, "t1", "u1", "She adopted two cats while running the shelters", _unit(0))
    _turn(backend_stores, "t2", "u1", "Lisbon is sunny", _unit(1))
    d = backend_stores.graph.dialect
    for question in ("adopting a cat?", "who runs the shelter", "the adoption"):
        rows = backend_stores.graph.read(
            q.turn_fulltext(d),
            {"q": d.fulltext_query(question), "k": 10, "user_id": "u1", "since": None, "until": None},
        )
        assert [r["turn"]["id"] for r in rows] == ["t1"], question


@pytest.mark.neo4j
def test_neo4j_fulltext_index_of_another_analyzer_is_rebuilt(neo4j_only_settings):
    """A store migrated before the analyzer was set keeps Neo4j's default (unstemmed) index; the next schema
    run rebuilds it over the stored turns, so recall does not depend on when the database was created."""
    from memory_runtime.stores.graph.neo4j import SHOW_FULLTEXT_INDEXES
    from memory_runtime.stores.graph.schema import SCHEMA

    turn_index = next(f for f in SCHEMA.fulltext if f.label == "Turn")
    with open_graph(neo4j_only_settings) as graph:
        graph.write(f"CREATE FULLTEXT INDEX {turn_index.name} FOR (n:Turn) ON EACH [n.content]")
        graph.write("CREATE (:Turn {id: 't1', user_id: 'u1', content: 'running shelters', timestamp: 1})")
        graph.ensure_schema(DIMS)
        analyzers = {r["name"]: r["analyzer"] for r in graph.read(SHOW_FULLTEXT_INDEXES)}
        assert analyzers[turn_index.name] == "english"
        rows = graph.read(
            q.turn_fulltext(graph.dialect),
            {"q": graph.dialect.fulltext_query("runs"), "k": 5, "user_id": "u1", "since": None, "until": None},
        )
        assert [r["turn"]["id"] for r in rows] == ["t1"]


def test_fulltext_query_strips_every_operator(backend_stores):
    d = backend_stores.graph.dialect
    query = d.fulltext_query('cats* AND (dogs) -birds "fish" @name:ferret | mice~ [owls] {bats} the')
    terms = ["cats", "dogs", "birds", "fish", "name", "ferret", "mice", "owls", "bats"]
    assert query in (" OR ".join(terms), "|".join(terms))  # operators and stopwords gone
    every = d.fulltext_query_all('cats* AND (dogs) -birds "fish" @name:ferret | mice~ [owls] {bats} the')
    assert every in (" AND ".join(terms), " ".join(terms))
    _turn(backend_stores, "both", "u1", "cats and dogs", _unit(0))
    _turn(backend_stores, "one", "u1", "cats only", _unit(1))
    rows = backend_stores.graph.read(
        q.turn_fulltext(d),
        {"q": d.fulltext_query_all("dogs? cats!"), "k": 10, "user_id": "u1", "since": None, "until": None},
    )
    assert [r["turn"]["id"] for r in rows] == ["both"]


def test_invalid_cypher_is_a_typed_error_carrying_the_statement(backend_stores):
    with pytest.raises(GraphQueryError) as err:
        backend_stores.graph.read("MATCH (n RETURN n")
    assert err.value.statement == "MATCH (n RETURN n"


def test_unreachable_falkordb_names_the_setting(settings, tmp_path):
    broken = settings.model_copy(update={"graph_uri": f"falkor+unix://{tmp_path}/nothing.sock"})
    with pytest.raises(StoreUnavailableError, match="MEMORY_GRAPH_URI"), open_graph(broken) as graph:
        graph.read("RETURN 1")


def test_vector_index_names_are_stable():
    assert VectorIndex("Turn").name == "turn_embedding"


def test_a_rebuilt_vector_index_answers_as_before_and_keeps_its_options(backend_stores):
    graph, dims = backend_stores.graph, backend_stores.settings.embedding_dimensions
    for i in range(12):
        _turn(backend_stores, f"t{i}", "u1", f"turn {i}", _unit(i % DIMS, (i + 1) % DIMS))
    search = q.turn_vector(graph.dialect)
    params = {"vec": _unit(3, 4), "k": 12, "limit": 5, "user_id": "u1", "since": None, "until": None}
    before = [r["turn"]["id"] for r in graph.read(search, params)]
    options = _vector_options(graph)
    assert graph.rebuild_vector_index("Turn", dims) is True
    after = [r["turn"]["id"] for r in graph.read(search, params)]
    # t3 is the query's own vector; t2 and t4 tie behind it; the rest tie at zero, in any order
    assert after[0] == before[0] == "t3" and set(after[:3]) == set(before[:3]) == {"t2", "t3", "t4"}
    assert _vector_options(graph) == options  # same name, dimension, similarity, no quantization
    _turn(backend_stores, "new", "u1", "written after the rebuild", _unit(40, 41))
    assert graph.read(search, {**params, "vec": _unit(40, 41)})[0]["turn"]["id"] == "new"


def _vector_options(graph) -> dict[str, object]:
    if graph.backend != "neo4j":
        return {}
    from memory_runtime.stores.graph.neo4j import SHOW_VECTOR_INDEXES

    return {r["name"]: r["options"]["indexConfig"] for r in graph.read(SHOW_VECTOR_INDEXES)}


@pytest.mark.neo4j
def test_remember_while_a_neo4j_vector_index_is_missing_skips_facts_with_a_warning(
    neo4j_only_settings, caplog, monkeypatch
):
    """Between the DROP and the CREATE of a rebuild no index answers: the search is an IndexUnavailableError
    (a StoreUnavailableError), so remember() degrades as for a graph outage instead of failing. A user whose
    history is small enough for the exact scan needs no index and still gets the fact."""
    from memory_runtime.api import AgentMemory
    from memory_runtime.domain.errors import IndexUnavailableError
    from memory_runtime.domain.models import Turn
    from memory_runtime.retrieval import semantic
    from memory_runtime.stores.graph.neo4j import drop_index
    from tests.conftest import open_migrated

    with open_migrated(neo4j_only_settings) as stores, AgentMemory("u1", stores=stores) as memory:
        memory.store_turn(Turn(conversation_id="c1", index=0, role="user", content="I paddle a red kayak"))
        memory.learn_fact("u1 paddles a red kayak")
        stores.graph.write(drop_index("fact_embedding"))
        d = stores.graph.dialect
        with pytest.raises(IndexUnavailableError, match="not available"):
            stores.graph.read(f"{d.vector_search(VectorIndex('Fact'))} RETURN node.id", {"k": 5, "vec": _unit(0)})
        assert [f.claim for f in memory.remember("red kayak").facts] == ["u1 paddles a red kayak"]  # exact scan
        monkeypatch.setattr(semantic, "EXACT_SCAN_MAX_TURNS", 0)  # a history the index search serves
        with caplog.at_level(logging.WARNING, logger="memory_runtime"):
            bundle = memory.remember("red kayak")
        assert [t.content for t in bundle.relevant_turns] == ["I paddle a red kayak"] and bundle.facts == []
        assert "facts and entities skipped" in caplog.text
        assert stores.graph.rebuild_vector_index("Fact", stores.settings.embedding_dimensions)
        assert [f.claim for f in memory.remember("red kayak").facts] == ["u1 paddles a red kayak"]
