"""The graph schema as data: what every backend must index. Dialects render it to DDL."""

from dataclasses import dataclass

from memory_runtime.domain.vocabulary import NODE_LABELS


@dataclass(frozen=True)
class VectorIndex:
    """A cosine vector index over `label.prop`."""

    label: str
    prop: str = "embedding"

    @property
    def name(self) -> str:
        """Index name (Neo4j needs one; FalkorDB identifies indexes by label)."""
        return f"{self.label.lower()}_{self.prop}"


@dataclass(frozen=True)
class FulltextIndex:
    """A full-text index over string properties of one label."""

    label: str
    props: tuple[str, ...]

    @property
    def name(self) -> str:
        """Index name (Neo4j); FalkorDB's full-text index is named by its label."""
        return f"{self.label.lower()}_text"


@dataclass(frozen=True)
class GraphSchema:
    """Uniqueness on `id` for every label, range indexes, vector and full-text indexes.

    `element_ranges` are range indexes over list properties that serve `$x IN n.prop`; only backends
    that index list elements (FalkorDB) create them, Neo4j's range indexes cannot answer that predicate.
    """

    unique: tuple[str, ...]
    ranges: tuple[tuple[str, str], ...]
    vectors: tuple[VectorIndex, ...]
    fulltext: tuple[FulltextIndex, ...]
    element_ranges: tuple[tuple[str, str], ...] = ()


SCHEMA = GraphSchema(
    unique=NODE_LABELS,
    ranges=tuple((lbl, "user_id") for lbl in NODE_LABELS)
    + (
        ("Turn", "conversation_id"),
        ("Turn", "timestamp"),
        ("Entity", "norm_name"),
        ("Fact", "invalid_at"),
        # The write path's lookup keys (see queries/semantic.py): dedup by claim, conflicts by subject/predicate.
        ("Fact", "claim_key"),
        ("Fact", "slot_key"),
        ("Goal", "status"),
        ("Tool", "name"),
    ),
    vectors=tuple(VectorIndex(lbl) for lbl in ("Turn", "Entity", "Fact", "Strategy", "Goal")),
    fulltext=(
        FulltextIndex("Entity", ("name", "aliases_text", "description")),
        FulltextIndex("Fact", ("claim",)),
        FulltextIndex("Turn", ("content",)),
    ),
    element_ranges=(("Entity", "norm_aliases"),),  # entity resolution by alias (upsert_entity)
)
