"""Memory-quality measurements, over the whole graph and log, that the Dagster asset checks report.

Each function measures one property and returns a small dataclass; deciding pass/fail and severity is the
check's business. Embedding dimensions: FalkorDB stores vectors as vecf32, on which `size()` fails, so graph
embeddings are measured by returning a sample of vectors and measuring them in Python (this works on Neo4j
too), plus the dimension of each vector index; Postgres is measured with the column's declared dimension and
`vector_dims()` over the most recent turns.
"""

from dataclasses import dataclass

from memory_runtime.batch.reindex import IndexHealth, check_vector_indexes
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.embedder_record import EmbeddingState, recorded_model
from memory_runtime.stores.graph.queries import quality as q
from memory_runtime.stores.postgres import turn_log

EMBEDDING_SAMPLE = 200  # vectors checked per label (graph) and most recent turns (Postgres)


@dataclass(frozen=True)
class CountsBy:
    """Offending items counted per kind (relationship type, node label), and a few of them."""

    by: dict[str, int]
    sample: list[str]

    @property
    def total(self) -> int:
        """All offending items."""
        return sum(self.by.values())


@dataclass(frozen=True)
class Offenders:
    """How many items break a rule, and the ids of a few of them."""

    count: int
    sample: list[str]


@dataclass(frozen=True)
class DuplicateEntities:
    """Entities, how many duplicate another with the same (user, type, normalised name), and a few groups."""

    entities: int
    duplicates: int
    sample: list[str]

    @property
    def rate(self) -> float:
        """duplicates / entities (0.0 without entities)."""
        return self.duplicates / self.entities if self.entities else 0.0


@dataclass(frozen=True)
class EmbeddingDimensions:
    """Every place an embedding dimension shows that disagrees with `expected`, and how much was checked."""

    expected: int
    problems: list[str]
    checked: dict[str, int]


def _sample(values: list[str]) -> str:
    return ", ".join(str(v) for v in list(values)[:10])


def cross_user_edges(stores: Stores) -> CountsBy:
    """Relationships whose endpoints belong to different users (a leak between users' memories), per type,
    with a few 'a -> b' samples."""
    graph = stores.graph
    rows = graph.read(q.cross_user_edges(graph.dialect))
    return CountsBy({r["type"]: int(r["n"]) for r in rows}, [s for r in rows for s in r["sample"]])


def untraceable_facts(stores: Stores) -> Offenders:
    """Derived facts (not user_stated) with no DERIVED_FROM turn and no source_turn_ids."""
    graph = stores.graph
    row = graph.read(q.untraceable_facts(graph.dialect))[0]
    return Offenders(int(row["n"]), list(row["sample"]))


def scores_out_of_range(stores: Stores) -> CountsBy:
    """Turn, Entity and Fact nodes whose salience or confidence lies outside [0, 1], per label."""
    graph = stores.graph
    bad: dict[str, int] = {}
    sample: list[str] = []
    for lbl in q.RANGE_LABELS:
        row = graph.read(q.out_of_range_scores(graph.dialect, node_label=lbl))[0]
        bad[lbl] = int(row["n"])
        sample += row["sample"]
    return CountsBy(bad, sample)


def duplicate_entities(stores: Stores) -> DuplicateEntities:
    """Entities sharing (user, type, normalised name) with another (entity resolution missed them)."""
    graph = stores.graph
    row = graph.read(q.entity_name_groups(graph.dialect))[0]
    return DuplicateEntities(int(row["entities"] or 0), int(row["duplicates"] or 0), list(row["sample"] or []))


def embedding_dimensions(stores: Stores, sample: int = EMBEDDING_SAMPLE) -> EmbeddingDimensions:
    """Compare every place an embedding dimension shows with the configured one: the Postgres column and its
    `sample` most recent turns, every graph vector index, and `sample` Turn/Entity/Fact vectors per label."""
    dims = stores.settings.embedding_dimensions
    problems: list[str] = []
    column = turn_log.turn_embedding_column_dimensions(stores.pg)
    if column is not None and column not in (dims, -1):
        problems.append(f"conversation_logs.embedding is vector({column})")
    pg_bad = turn_log.recent_turn_dimension_mismatches(stores.pg, dims, sample)
    if pg_bad["bad"]:
        problems.append(f"{pg_bad['bad']} of the {pg_bad['n']} most recent turns in Postgres")
    graph = stores.graph
    for lbl, index_dims in sorted(graph.vector_dimensions().items()):
        if index_dims != dims:
            problems.append(f"vector index on :{lbl} has dimension {index_dims}")
    checked = {"postgres_turns": int(pg_bad["n"])}
    for lbl in q.EMBEDDING_LABELS:
        rows = graph.read(q.embedding_sample(graph.dialect, node_label=lbl), {"limit": sample})
        wrong = [r["id"] for r in rows if len(r["embedding"] or []) != dims]
        checked[f"graph_{lbl.lower()}s"] = len(rows)
        if wrong:
            problems.append(f"{len(wrong)} of {len(rows)} sampled :{lbl} vectors (e.g. {_sample(wrong[:3])})")
    return EmbeddingDimensions(dims, problems, checked)


def embedder_state(stores: Stores) -> EmbeddingState:
    """The embedder recorded as the writer of the stored vectors, and the configured one."""
    return EmbeddingState(recorded_model(stores.pg), stores.embedder.model_id)


def vector_index_health(stores: Stores) -> list[IndexHealth]:
    """The health of every graph vector index (share of live nodes its k-nearest probes return)."""
    return check_vector_indexes(stores)
