"""`agent-memory backup` / `restore` on real stores, both graph backends.

A restore into an empty namespace answers remember() exactly as the source did and holds the same counts; a
backup taken while a thread keeps writing turns is one consistent snapshot; a damaged, foreign or newer backup
is refused before anything is written; a non-empty target is refused unless forced.
"""

import gzip
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from memory_runtime import AgentMemory, Entity, Goal, Turn
from memory_runtime.batch import backup_format as fmt
from memory_runtime.batch.backup import backups_in, prune, scheduled_backup, write_backup
from memory_runtime.batch.restore import restore_backup, target_contents
from memory_runtime.config import Settings
from memory_runtime.domain import ids
from memory_runtime.domain.errors import (
    BackupCorruptError,
    BackupError,
    BackupVersionError,
    EmbeddingDimensionMismatch,
    RestoreTargetNotEmpty,
)
from memory_runtime.retrieval import episodic
from memory_runtime.stores.graph.queries import backup as q
from memory_runtime.stores.postgres import backup as pg_backup
from tests.conftest import drop_namespace, make_settings, open_migrated, reset_neo4j

QUERIES = ("where does Ada work?", "Lisbon apartment", "what should we ship next", "Cython build flags")
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def _populate(stores) -> None:
    """Two users' turns, entities, facts, a relation, goals, a strategy, tool use and working memory."""
    for user, topic in (("u1", "Lisbon"), ("u2", "Porto")):
        with AgentMemory(user, f"{user}-c1", stores=stores) as m:
            m.store_turns(
                [
                    Turn(
                        conversation_id=f"{user}-c1",
                        index=i,
                        role="user" if i % 2 == 0 else "assistant",
                        content=text,
                        timestamp=T0 + timedelta(minutes=i),
                    )
                    for i, text in enumerate(
                        [
                            f"I moved to a new apartment in {topic} last week.",
                            f"Nice, how do you like {topic} so far?",
                            "Ada from Acme helps me with the Cython build flags.",
                            "We should ship the ARM wheels next.",
                        ]
                    )
                ]
            )
            ada = m.upsert_entity(Entity(name="Ada", type="Person", aliases=["Ada L."]))
            acme = m.upsert_entity(Entity(name="Acme", type="Organization"))
            m.relate(ada.id, acme.id, "WORKS_FOR", {"since": 2021})
            m.learn_fact("Ada works at Acme", entity_ids=[ada.id, acme.id], subject="Ada", predicate="works_for",
                         object="Acme")  # fmt: skip
            m.learn_fact(f"The user lives in {topic}", confidence=0.8)
            m.add_goal(Goal(description="Ship the ARM wheels", priority=4))
            m.learn_strategy("build wheels with cibuildwheel", "packaging", ["cibuildwheel"], success=True)
            m.record_tool_usage("cibuildwheel", {"arch": "arm64"}, {"ok": True}, True, 1200.0)
            m.set_working_context("mood", "focused")


def _signature(bundle) -> dict[str, list[tuple]]:
    """What remember() returned, section by section: ids, who found them, scores (rounded)."""
    return {
        "turns": [(h.id, tuple(h.found_by), round(h.score, 4)) for h in bundle.relevant_turns],
        "facts": [(h.id, tuple(h.found_by), round(h.score, 4)) for h in bundle.facts],
        "entities": [(h.id, tuple(h.found_by), round(h.score, 4)) for h in bundle.entities],
        "strategies": [(h.id, round(h.score, 4)) for h in bundle.strategies],
        "goals": [g.id for g in bundle.active_goals],
    }


def _recall(stores) -> dict[str, object]:
    out: dict[str, object] = {}
    for user in ("u1", "u2"):
        with AgentMemory(user, f"{user}-c1", stores=stores) as m:
            for query in QUERIES:
                out[f"{user}:{query}"] = _signature(m.remember(query, top_k=10))
            out[f"{user}:working"] = m.get_working_context()
            out[f"{user}:recent"] = [t["id"] for t in m.working.get_recent_turns(limit=10)]
    return out


def _counts(stores) -> dict[str, int]:
    with stores.pg.connection() as conn:
        out = {t.name: pg_backup.row_count(conn, t.name) for t in pg_backup.tables(conn, stores.pg.schema)}
    graph = stores.graph
    for label in q.VECTOR_PROPS:
        out[f"graph.{label}"] = len(graph.read(f"MATCH (n:{label}) RETURN n.id AS id"))
    out["graph.relationships"] = int(graph.read("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"])
    return out


def _target(stack, backend_settings: Settings, namespace: str) -> Settings:
    """Settings of an empty second namespace on the same servers (Neo4j has one graph: it is emptied)."""
    target = make_settings(
        stack,
        namespace + "_r",
        **(
            {"graph_uri": backend_settings.graph_uri, "neo4j_user": backend_settings.neo4j_user,
             "neo4j_password": backend_settings.neo4j_password}
            if backend_settings.graph_backend == "neo4j" else {}
        ),
    )  # fmt: skip
    if backend_settings.graph_backend == "neo4j":
        reset_neo4j(target)
    return target


@pytest.fixture
def target_factory(stack, namespace):
    made: list[Settings] = []

    def make(source: Settings) -> Settings:
        made.append(_target(stack, source, namespace))
        return made[-1]

    yield make
    for s in made:
        drop_namespace(s)


def test_restore_into_an_empty_namespace_recalls_the_same(backend_settings, target_factory, tmp_path):
    source = open_migrated(backend_settings)
    try:
        _populate(source)
        manifest = write_backup(source, tmp_path / "b")
        before, counts = _recall(source), _counts(source)
    finally:
        source.close()
    assert manifest.postgres.tables["conversation_logs"].rows == 8
    assert manifest.graph.nodes["Fact"] == 4 and manifest.graph.nodes["Entity"] == 4
    assert manifest.graph.backend == backend_settings.graph_backend
    assert manifest.embedder.dimensions == backend_settings.embedding_dimensions and manifest.embedder.model_id
    assert set(manifest.files) == {
        *(fmt.table_file(t) for t in manifest.postgres.tables),
        fmt.NODES,
        fmt.RELATIONSHIPS,
        fmt.REDIS_KEYS,
    }

    target_settings = target_factory(backend_settings)
    if backend_settings.graph_backend == "neo4j":
        pass  # the source graph was emptied by _target: the restore really rebuilds it
    target = open_migrated(target_settings)
    try:
        assert target_contents(target) == {}
        report = restore_backup(target, tmp_path / "b")
        assert report.reprojected == 0  # every turn of the snapshot was in the graph export
        # FalkorDB's append-only file was rewritten, so a restart loads a snapshot instead of replaying the load
        assert report.compacted == (backend_settings.graph_backend == "falkordb")
        assert _counts(target) == counts
        assert _recall(target) == before
        with target.pg.connection() as conn:  # the sequences continue after the restored rows
            assert pg_backup.sequences(conn, target.pg.schema) == manifest.postgres.sequences
        with AgentMemory("u1", "u1-c1", stores=target) as m:  # the restored store takes new writes
            assert m.store_turn(Turn(conversation_id="u1-c1", index=4, role="user", content="Back again."))
    finally:
        target.close()


TIED_QUERIES = ("red bike", "the bike I bought", "Bike 7", "owns a red bike")


def _populate_ties(stores) -> None:
    """Per user, 120 turns that differ only in a number (equal BM25 scores and, with the hashing embedder, equal
    cosines for a query without the number), 30 such entities and 30 such facts: far more equally scored hits
    than remember() returns, so the cut falls inside a tie."""
    for user in ("u1", "u2"):
        with AgentMemory(user, f"{user}-bikes", stores=stores) as m:
            m.store_turns(
                [
                    Turn(conversation_id=f"{user}-bikes-{i % 12}", index=i // 12, role="user",
                         content=f"I bought a red bike, number {i}.", timestamp=T0)
                    for i in range(120)
                ]
            )  # fmt: skip
            for i in range(30):
                bike = m.upsert_entity(Entity(name=f"Bike {i}", type="Product"))
                m.learn_fact(f"The user owns red bike {i}", entity_ids=[bike.id], confidence=0.9)


def _recall_ties(stores) -> dict[str, object]:
    out: dict[str, object] = {}
    for user in ("u1", "u2"):
        with AgentMemory(user, stores=stores) as m:
            for query in TIED_QUERIES:
                out[f"{user}:{query}"] = _signature(m.remember(query, top_k=10))
    return out


def test_a_restore_answers_the_same_where_many_hits_score_the_same(backend_settings, target_factory, tmp_path):
    source = open_migrated(backend_settings)
    try:
        _populate_ties(source)
        write_backup(source, tmp_path / "b")
        before = _recall_ties(source)
        postings = episodic.postings_graph(source, "u1", "red bike", None, None, k=100)
        bm25 = [t["score"] for t in episodic.rank_graph(source, postings, 100).turns]
    finally:
        source.close()
    assert len(bm25) == 100 and len(set(bm25)) == 1  # remember()'s 50 full-text candidates: a cut inside a tie
    target = open_migrated(target_factory(backend_settings))
    try:
        restore_backup(target, tmp_path / "b")
        assert _recall_ties(target) == before
    finally:
        target.close()


def _turn_ids(stores) -> set[str]:
    with stores.pg.connection() as conn:
        return {r["id"] for r in conn.execute("SELECT id::text AS id FROM conversation_logs").fetchall()}


def test_a_backup_taken_while_turns_are_written_is_consistent(backend_settings, target_factory, tmp_path):
    source = open_migrated(backend_settings)
    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with AgentMemory("w", stores=source) as m:
                i = 0
                while not stop.is_set():
                    conv = f"w-c{i // 6}"
                    m.store_turns(  # a batch is one PostgreSQL transaction: all its turns or none
                        [Turn(conversation_id=conv, index=i % 6 + k, role="user", content=f"turn {i + k} about {conv}")
                         for k in range(2)]
                    )  # fmt: skip
                    i += 2
                    written.append(i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    try:
        _populate(source)
        thread.start()
        while len(written) < 20:
            time.sleep(0.01)
        at_start = len(written)
        manifest = write_backup(source, tmp_path / "b")
        at_end = len(written)
        stop.set()
        thread.join(timeout=30)
        assert not errors, errors
        assert at_end > at_start, "the writer did not write during the backup"
        total_after = len(_turn_ids(source))
    finally:
        stop.set()
        source.close()
    turns = manifest.postgres.tables["conversation_logs"].rows
    assert 8 + 2 * at_start <= turns < total_after  # the snapshot holds some, not all, of the concurrent turns

    target = open_migrated(target_factory(backend_settings))
    try:
        report = restore_backup(target, tmp_path / "b")
        assert {k: v for k, v in report.rows.items()} == {
            t: e.rows for t, e in manifest.postgres.tables.items()
        }  # every table as counted in the snapshot
        restored = _turn_ids(target)
        assert len(restored) == turns
        with target.pg.connection() as conn:
            rows = conn.execute(
                "SELECT conversation_id, array_agg(turn_index ORDER BY turn_index) AS ix, count(*) AS n "
                "FROM conversation_logs WHERE user_id = 'w' GROUP BY conversation_id"
            ).fetchall()
        for r in rows:  # whole batches only: each conversation's indexes are 0..n-1 with an even n
            assert r["ix"] == list(range(r["n"])) and r["n"] % 2 == 0, r
        graph_turns = {r["id"] for r in target.graph.read("MATCH (t:Turn) RETURN t.id AS id")}
        assert graph_turns == restored  # no turn from after the snapshot, none missing after the re-projection
        assert report.nodes - manifest.graph.nodes["Turn"] + report.reprojected >= 0
        assert manifest.graph.nodes["Turn"] + report.reprojected == turns
        dangling = target.graph.read("MATCH (c:Conversation) WHERE NOT (c)-[:HAS_TURN]->() RETURN c.id AS id")
        assert dangling == []
    finally:
        target.close()


class _WritesWhenTheGraphExportStarts(fmt.Quiet):
    """Progress that, once the PostgreSQL snapshot is copied and the graph export begins, writes a turn and memory
    derived from it, as consolidation running during a backup would."""

    def __init__(self, write) -> None:
        self.write = write

    def step(self, name: str, total: int, unit: str) -> None:
        if name == "graph":
            self.write()


def test_memory_derived_from_turns_after_the_snapshot_is_left_out(backend_settings, target_factory, tmp_path):
    source = open_migrated(backend_settings)
    later_turn = ids.turn_id("u1-c1", 4)
    made: dict[str, str] = {}
    try:
        _populate(source)
        with AgentMemory("u1", "u1-c1", stores=source) as m:
            cython = m.learn_fact("Ada likes Cython", source="extraction", source_turn_id=ids.turn_id("u1-c1", 2))
            lives = next(f["id"] for f in m.semantic.list_facts() if f["claim"] == "The user lives in Lisbon")
            ada = m.upsert_entity(Entity(name="Ada", type="Person"))  # the one _populate made

            def during_export() -> None:
                m.store_turn(Turn(conversation_id="u1-c1", index=4, role="user", content="Ada now drinks tea."))
                tea = m.upsert_entity(Entity(name="Tea House", type="Organization", source_turn_ids=[later_turn]))
                m.relate(ada.id, tea.id, "WORKS_FOR")
                new = m.learn_fact("Ada drinks tea", source="extraction", entity_ids=[ada.id, tea.id],
                                   source_turn_id=later_turn)  # fmt: skip
                m.learn_fact("Ada likes Cython", source="extraction", source_turn_id=later_turn)  # reinforced
                m.learn_fact("The user lives in Lisbon", source_turn_id=later_turn)  # reinforced
                made.update(tea=tea.id, fact=new.id)

            manifest = write_backup(source, tmp_path / "b", progress=_WritesWhenTheGraphExportStarts(during_export))
    finally:
        source.close()
    assert made, "the writes during the export did not run"
    assert manifest.postgres.tables["conversation_logs"].rows == 8  # the later turn is not in the snapshot
    assert manifest.graph.left_out == {"Turn": 1, "Conversation": 0, "Entity": 1, "Fact": 1}

    target = open_migrated(target_factory(backend_settings))
    try:
        report = restore_backup(target, tmp_path / "b")
        assert report.relationships == manifest.graph.relationships  # no exported relationship lost an end
        graph = target.graph
        assert graph.read("MATCH (n) WHERE n.id IN $ids RETURN n.id AS id", {"ids": [*made.values(), later_turn]}) == []
        sources = {
            r["id"]: r["sources"]
            for r in graph.read(
                "MATCH (f:Fact) WHERE f.id IN $ids RETURN f.id AS id, f.source_turn_ids AS sources",
                {"ids": [cython.id, lives]},
            )
        }
        assert sources == {cython.id: [ids.turn_id("u1-c1", 2)], lives: []}  # kept, without the later turn
        derived = graph.read("MATCH (f:Fact {id: $id})-[:DERIVED_FROM]->(t:Turn) RETURN t.id AS id", {"id": cython.id})
        assert [r["id"] for r in derived] == [ids.turn_id("u1-c1", 2)]
        restored = _turn_ids(target)
        for row in graph.read("MATCH (n) WHERE n:Fact OR n:Entity RETURN n.source_turn_ids AS sources"):
            assert set(row["sources"] or []) <= restored  # every recorded source turn is in the restored log
    finally:
        target.close()


# ---- refusals: a damaged, foreign or newer backup; a non-empty target --------------------------------------


@pytest.fixture
def backed_up(settings, stack, namespace, tmp_path):
    """A small backup of a FalkorDB namespace and an empty target namespace (checks that need no second graph)."""
    source = open_migrated(settings)
    try:
        _populate(source)
        write_backup(source, tmp_path / "b")
    finally:
        source.close()
    target_settings = make_settings(stack, namespace + "_r")
    target = open_migrated(target_settings)
    try:
        yield tmp_path / "b", target
    finally:
        target.close()
        drop_namespace(target_settings)


def _rewrite_manifest(directory: Path, change) -> None:
    path = directory / fmt.MANIFEST
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _assert_nothing_written(target) -> None:
    assert target_contents(target) == {}


def test_a_damaged_file_is_refused_before_anything_is_written(backed_up):
    directory, target = backed_up
    path = directory / fmt.table_file("conversation_logs")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BackupCorruptError, match="does not match its checksum"):
        restore_backup(target, directory)
    _assert_nothing_written(target)


def test_a_missing_file_is_refused(backed_up):
    directory, target = backed_up
    (directory / fmt.NODES).unlink()
    with pytest.raises(BackupCorruptError, match="nodes.jsonl.gz is missing"):
        restore_backup(target, directory)
    _assert_nothing_written(target)


def test_a_corrupt_manifest_is_refused(backed_up):
    directory, target = backed_up
    (directory / fmt.MANIFEST).write_text('{"format": "agent-memory-backup", "format_version": 1, "created_at": ')
    with pytest.raises(BackupCorruptError, match="not valid JSON"):
        restore_backup(target, directory)
    _rewrite_manifest_from_scratch = {"format": fmt.FORMAT, "format_version": fmt.FORMAT_VERSION, "graph": {}}
    (directory / fmt.MANIFEST).write_text(json.dumps(_rewrite_manifest_from_scratch))
    with pytest.raises(BackupCorruptError, match="is damaged"):
        restore_backup(target, directory)
    _assert_nothing_written(target)


def test_a_foreign_or_newer_backup_is_refused(backed_up, tmp_path):
    directory, target = backed_up
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / fmt.MANIFEST).write_text(json.dumps({"format": "pg_dump", "version": 16}))
    with pytest.raises(BackupVersionError, match="not an agent-memory backup"):
        restore_backup(target, foreign)
    with pytest.raises(BackupCorruptError, match="has no manifest.json"):
        restore_backup(target, tmp_path)
    _rewrite_manifest(directory, lambda m: m.update(format_version=fmt.FORMAT_VERSION + 1))
    with pytest.raises(BackupVersionError, match="backup format version 2"):
        restore_backup(target, directory)
    _rewrite_manifest(directory, lambda m: m.update(format_version=fmt.FORMAT_VERSION, schema_version=999))
    with pytest.raises(BackupVersionError, match="schema version 999"):
        restore_backup(target, directory)
    _rewrite_manifest(directory, lambda m: m.update(schema_version=3, embedder={"model_id": "x", "dimensions": 7}))
    with pytest.raises(EmbeddingDimensionMismatch):
        restore_backup(target, directory)
    _assert_nothing_written(target)


def test_a_non_empty_target_is_refused_unless_forced(backed_up):
    directory, target = backed_up
    with AgentMemory("someone", "x", stores=target) as m:
        m.store_turn(Turn(conversation_id="x", index=0, role="user", content="not in the backup"))
    with pytest.raises(RestoreTargetNotEmpty, match="--force"):
        restore_backup(target, directory)
    report = restore_backup(target, directory, force=True)
    assert report.rows["conversation_logs"] == 8
    with AgentMemory("someone", "x", stores=target) as m:
        assert m.remember("not in the backup").relevant_turns == []
        assert m.working.get_recent_turns() == []


def test_a_backup_goes_into_a_new_directory_only(settings, tmp_path):
    stores = open_migrated(settings)
    try:
        (tmp_path / "full").mkdir()
        (tmp_path / "full" / "x").write_text("x")
        with pytest.raises(BackupError, match="not empty"):
            write_backup(stores, tmp_path / "full")
        manifest = write_backup(stores, tmp_path / "empty")  # an empty store backs up too
        assert manifest.postgres.tables["conversation_logs"].rows == 0
        assert not (tmp_path / "empty.partial").exists()
    finally:
        stores.close()


def test_retention_keeps_the_newest_backups(settings, tmp_path):
    stores = open_migrated(settings)
    try:
        _populate(stores)
        made = [scheduled_backup(stores, tmp_path, keep=2, now=T0 + timedelta(days=d))[0] for d in range(4)]
    finally:
        stores.close()
    assert backups_in(tmp_path) == made[-2:]
    stale = tmp_path / "backup-20000101T000000Z.partial"
    stale.mkdir()
    (stale / "x").write_text("x")
    old = (datetime.now(UTC) - timedelta(days=3)).timestamp()
    import os

    os.utime(stale, (old, old))
    assert prune(tmp_path, keep=2) == [stale]
    with pytest.raises(BackupError, match="at least 1"):
        prune(tmp_path, keep=0)


def test_the_cli_backs_up_and_restores(settings, stack, namespace, tmp_path, monkeypatch, capsys):
    from memory_ops.cli import main

    stores = open_migrated(settings)
    try:
        _populate(stores)
    finally:
        stores.close()
    env = {
        "MEMORY_POSTGRES_URI": stack.postgres_uri,
        "MEMORY_GRAPH_URI": stack.graph_uri,
        "MEMORY_REDIS_URI": stack.redis_uri,
        "MEMORY_EMBEDDING_DIMENSIONS": str(settings.embedding_dimensions),
    }
    for k, v in {**env, "MEMORY_POSTGRES_SCHEMA": namespace, "MEMORY_GRAPH_NAME": namespace,
                 "MEMORY_REDIS_PREFIX": namespace}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    assert main(["backup", str(tmp_path / "b")]) == 0
    assert "backed up" in capsys.readouterr().out
    assert main(["restore", str(tmp_path / "b"), "--no-progress"]) == 1  # the source itself is not empty
    assert "--force" in capsys.readouterr().err
    target = make_settings(stack, namespace + "_r")
    for k in ("MEMORY_POSTGRES_SCHEMA", "MEMORY_GRAPH_NAME", "MEMORY_REDIS_PREFIX"):
        monkeypatch.setenv(k, namespace + "_r")
    try:
        assert main(["restore", str(tmp_path / "b")]) == 0
        out = capsys.readouterr()
        assert "restored" in out.out and "verifying" in out.err  # progress of the long steps on stderr
    finally:
        drop_namespace(target)
    with gzip.open(tmp_path / "b" / fmt.NODES, "rt") as f:  # the export holds no vector inside props
        assert all("embedding" not in json.loads(line)["props"] for line in f)
