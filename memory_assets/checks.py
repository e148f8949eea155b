"""Asset checks of memory quality, evaluated over the whole graph / log after the asset they guard.

Blocking checks protect users: a cross-user edge could leak one user's memories into another's recall,
and a fact that traces to no turn has no provenance. When one fails, downstream assets of the same run
do not materialise. The other checks report (severity ERROR or WARN) without blocking.

The measurements themselves are `memory_runtime.batch.checks`; these checks decide pass/fail and severity.
"""

from collections.abc import Sequence
from typing import Any

import dagster as dg

from memory_assets.consolidation import semantic_memory
from memory_assets.episodic import episodic_graph
from memory_assets.lifecycle import archived_memories
from memory_assets.quality import DUPLICATE_ENTITY_MAX_RATE
from memory_runtime.batch import checks as quality
from memory_runtime.batch import reindex as maintenance
from resources import MemoryStoreResource


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
        edges = quality.cross_user_edges(memory.stores)
        return dg.AssetCheckResult(
            passed=edges.total == 0,
            metadata={
                "cross_user_edges": edges.total,
                "by_type": dg.MetadataValue.json(edges.by),
                "sample": _sample(edges.sample),
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
    facts = quality.untraceable_facts(memory.stores)
    return dg.AssetCheckResult(
        passed=facts.count == 0, metadata={"untraceable_facts": facts.count, "sample": _sample(facts.sample)}
    )


@dg.asset_check(
    asset=episodic_graph,
    description=(
        "Embedding dimensions match MEMORY_EMBEDDING_DIMENSIONS: the Postgres column and recent turns "
        "(vector_dims), every graph vector index, and a sample of Turn/Entity/Fact vectors per label."
    ),
)
def embedding_dimensions_match(memory: MemoryStoreResource) -> dg.AssetCheckResult:
    """Compare every place an embedding dimension shows with the configured one."""
    report = quality.embedding_dimensions(memory.stores)
    return dg.AssetCheckResult(
        passed=not report.problems,
        metadata={
            "expected_dimensions": report.expected,
            "problems": "; ".join(report.problems) or "none",
            "checked": dg.MetadataValue.json(report.checked),
        },
    )


@dg.asset_check(
    asset=semantic_memory,
    description="Salience and confidence of every Turn, Entity and Fact lie in [0, 1].",
)
def scores_in_unit_range(memory: MemoryStoreResource) -> dg.AssetCheckResult:
    """Count nodes with a salience or confidence outside [0, 1]."""
    report = quality.scores_out_of_range(memory.stores)
    return dg.AssetCheckResult(
        passed=report.total == 0,
        metadata={
            "out_of_range": report.total,
            "by_label": dg.MetadataValue.json(report.by),
            "sample": _sample(report.sample),
        },
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
    report = quality.duplicate_entities(memory.stores)
    return dg.AssetCheckResult(
        passed=report.rate <= DUPLICATE_ENTITY_MAX_RATE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "entities": report.entities,
            "duplicates": report.duplicates,
            "rate": float(report.rate),
            "threshold": DUPLICATE_ENTITY_MAX_RATE,
            "sample": _sample(report.sample),
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
    state = quality.embedder_state(memory.stores)
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
    health = quality.vector_index_health(memory.stores)
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
