"""Asset checks of memory quality, evaluated over the whole graph / log after the asset they guard.

Blocking checks protect users: a cross-user edge could leak one user's memories into another's recall,
and a fact that traces to no turn has no provenance. When one fails, downstream assets of the same run
do not materialise. The other checks report (severity ERROR or WARN) without blocking.

Embedding dimensions: FalkorDB stores vectors as vecf32, on which `size()` fails, so graph embeddings are
checked by returning a sample of vectors and measuring them in Python (this works on Neo4j too), plus the
dimension of each vector index; Postgres is checked with the column's declared dimension and
`vector_dims()` over the most recent turns.
"""

from collections.abc import Sequence
from typing import Any

import dagster as dg

from memory_assets import cypher
from memory_assets.consolidation import semantic_memory
from memory_assets.episodic import episodic_graph
from memory_assets.lifecycle import archived_memories
from memory_runtime.batch import reindex as maintenance
from memory_runtime.stores.embedder_record import EmbeddingState, recorded_model
from resources import MemoryStoreResource

DUPLICATE_ENTITY_MAX_RATE = 0.02  # duplicates / entities with the same (user, type, norm_name)
EMBEDDING_SAMPLE = 200  # vectors checked per label (graph) and most recent turns (Postgres)


def _sample(values: Sequence[Any]) -> str:
    return ", ".join(str(v) for v in list(values)[:10])


def _no_cross_user_edges(asset: Any) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name="no_cross_user_edges",
        blocking=True,
        description="No relationship joins nodes of two different users (user_id on both endpoints).",
    )
    def _check(memory: MemoryStoreResource) -> dg.AssetCheckResult:
        graph = memory.stores.graph
        rows = graph.read(cypher.cross_user_edges(graph.dialect))
        total = sum(int(r["n"]) for r in rows)
        return dg.AssetCheckResult(
            passed=total == 0,
            metadata={
                "cross_user_edges": total,
                "by_type": dg.MetadataValue.json({r["type"]: int(r["n"]) for r in rows}),
                "sample": _sample([s for r in rows for s in r["sample"]]),
            },
        )

    return _check


no_cross_user_edges_episodic = _no_cross_user_edges(episodic_graph)
no_cross_user_edges_semantic = _no_cross_user_edges(semantic_memory)


@dg.asset_check(
    asset=semantic_memory,
    blocking=True,
    description=(
        "Every derived fact traces to at least one turn: a DERIVED_FROM edge to a Turn or non-empty "
        "source_turn_ids. Facts an agent stated itself (source user_stated) may have no turn."
    ),
)
def facts_trace_to_turns(memory: MemoryStoreResource) -> dg.AssetCheckResult:
    """Fail on any extracted or inferred fact without provenance."""
    graph = memory.stores.graph
    row = graph.read(cypher.untraceable_facts(graph.dialect))[0]
    n = int(row["n"])
    return dg.AssetCheckResult(passed=n == 0, metadata={"untraceable_facts": n, "sample": _sample(row["sample"])})


@dg.asset_check(
    asset=episodic_graph,
    description=(
        "Embedding dimensions match MEMORY_EMBEDDING_DIMENSIONS: the Postgres column and recent turns "
        "(vector_dims), every graph vector index, and a sample of Turn/Entity/Fact vectors per label."
    ),
)
def embedding_dimensions_match(memory: MemoryStoreResource) -> dg.AssetCheckResult:
    """Compare every place an embedding dimension shows with the configured one."""
    stores = memory.stores
    dims = memory.settings.embedding_dimensions
    problems: list[str] = []
    column = stores.pg.fetch(
        """
        SELECT a.atttypmod AS dims FROM pg_attribute a
         WHERE a.attrelid = 'conversation_logs'::regclass AND a.attname = 'embedding'
        """
    )
    if column and int(column[0]["dims"]) not in (dims, -1):
        problems.append(f"conversation_logs.embedding is vector({column[0]['dims']})")
    pg_bad = stores.pg.fetch(
        """
        SELECT count(*) FILTER (WHERE vector_dims(embedding) <> %s) AS bad, count(*) AS n
          FROM (SELECT embedding FROM conversation_logs WHERE embedding IS NOT NULL
                 ORDER BY seq DESC LIMIT %s) s
        """,
        (dims, EMBEDDING_SAMPLE),
    )[0]
    if pg_bad["bad"]:
        problems.append(f"{pg_bad['bad']} of the {pg_bad['n']} most recent turns in Postgres")
    graph = stores.graph
    for lbl, index_dims in sorted(graph.vector_dimensions().items()):
        if index_dims != dims:
            problems.append(f"vector index on :{lbl} has dimension {index_dims}")
    checked = {"postgres_turns": int(pg_bad["n"])}
    for lbl in cypher.EMBEDDING_LABELS:
        rows = graph.read(cypher.embedding_sample(graph.dialect, lbl), {"limit": EMBEDDING_SAMPLE})
        wrong = [r["id"] for r in rows if len(r["embedding"] or []) != dims]
        checked[f"graph_{lbl.lower()}s"] = len(rows)
        if wrong:
            problems.append(f"{len(wrong)} of {len(rows)} sampled :{lbl} vectors (e.g. {_sample(wrong[:3])})")
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={
            "expected_dimensions": dims,
            "problems": "; ".join(problems) or "none",
            "checked": dg.MetadataValue.json(checked),
        },
    )


@dg.asset_check(
    asset=semantic_memory,
    description="Salience and confidence of every Turn, Entity and Fact lie in [0, 1].",
)
def scores_in_unit_range(memory: MemoryStoreResource) -> dg.AssetCheckResult:
    """Count nodes with a salience or confidence outside [0, 1]."""
    graph = memory.stores.graph
    bad: dict[str, int] = {}
    sample: list[str] = []
    for lbl in cypher.RANGE_LABELS:
        row = graph.read(cypher.out_of_range_scores(graph.dialect, lbl))[0]
        bad[lbl] = int(row["n"])
        sample += row["sample"]
    total = sum(bad.values())
    return dg.AssetCheckResult(
        passed=total == 0,
        metadata={"out_of_range": total, "by_label": dg.MetadataValue.json(bad), "sample": _sample(sample)},
    )


@dg.asset_check(
    asset=semantic_memory,
    description=(
        f"Entities sharing (user, type, normalised name) stay under {DUPLICATE_ENTITY_MAX_RATE:.0%} of all "
        "entities (entity resolution is working)."
    ),
)
def duplicate_entity_rate(memory: MemoryStoreResource) -> dg.AssetCheckResult:
    """Duplicates / entities, warned above DUPLICATE_ENTITY_MAX_RATE."""
    graph = memory.stores.graph
    row = graph.read(cypher.entity_name_groups(graph.dialect))[0]
    entities, duplicates = int(row["entities"] or 0), int(row["duplicates"] or 0)
    rate = duplicates / entities if entities else 0.0
    return dg.AssetCheckResult(
        passed=rate <= DUPLICATE_ENTITY_MAX_RATE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "entities": entities,
            "duplicates": duplicates,
            "rate": float(rate),
            "threshold": DUPLICATE_ENTITY_MAX_RATE,
            "sample": _sample(row["sample"] or []),
        },
    )


@dg.asset_check(
    asset=episodic_graph,
    description=(
        "The stored vectors were written by the configured embedder (the model id `migrate` recorded): "
        "vectors of another model make vector recall degrade silently. Fix: `agent-memory reembed`."
    ),
)
def vectors_from_configured_embedder(memory: MemoryStoreResource) -> dg.AssetCheckResult:
    """Compare the recorded embedder with the configured one (warns: recall degrades, memory is not wrong)."""
    stores = memory.stores
    state = EmbeddingState(recorded_model(stores.pg), stores.embedder.model_id)
    return dg.AssetCheckResult(
        passed=not state.fix,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "recorded": state.recorded or "not recorded",
            "configured": state.configured,
            "fix": state.fix or "none",
        },
    )


@dg.asset_check(
    asset=archived_memories,
    description=(
        f"Every graph vector index returns at least {maintenance.DEFAULT_THRESHOLD:.0%} of the live nodes its "
        "k-nearest probes should (orphan vectors left by updates crowd them out; `archived_memories` and "
        "`agent-memory reindex` rebuild an index below that)."
    ),
)
def vector_indexes_healthy(memory: MemoryStoreResource) -> dg.AssetCheckResult:
    """The health of each vector index after the day's decay, archival and repair."""
    health = maintenance.check_vector_indexes(memory.stores)
    low = [i.label for i in health if i.health < maintenance.DEFAULT_THRESHOLD]
    return dg.AssetCheckResult(
        passed=not low,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "below_threshold": ", ".join(low) or "none",
            "health": dg.MetadataValue.json({i.label: round(i.health, 3) for i in health}),
            "vectors": dg.MetadataValue.json({i.label: i.vectors for i in health}),
        },
    )


ALL_CHECKS = [
    no_cross_user_edges_episodic,
    no_cross_user_edges_semantic,
    facts_trace_to_turns,
    embedding_dimensions_match,
    scores_in_unit_range,
    duplicate_entity_rate,
    vectors_from_configured_embedder,
    vector_indexes_healthy,
]
