"""The few places where Neo4j and FalkorDB Cypher differ: index DDL, vector and full-text search.

Everything else is shared text built in `queries/`. Scores leave this module normalised to the Neo4j
convention — similarity in [0, 1], higher is better — so ranking code never knows the backend.
"""

from dataclasses import dataclass
from typing import Literal

from memory_runtime.domain.text import STOPWORDS, tokens
from memory_runtime.stores.graph.cypher import ident
from memory_runtime.stores.graph.schema import FulltextIndex, GraphSchema, VectorIndex

MAX_QUERY_TERMS = 32


@dataclass(frozen=True)
class DDL:
    """One schema element: what it is (for existence checks) and the statement that creates it."""

    kind: Literal["unique", "range", "vector", "fulltext"]
    label: str
    props: tuple[str, ...]
    statement: str


def query_terms(text: str) -> list[str]:
    """Folded word tokens of a search text without stopwords, deduplicated, at most MAX_QUERY_TERMS.

    Only letters and digits survive, so no query syntax of either backend can be injected.
    """
    terms = [t for t in tokens(text) if t not in STOPWORDS]
    return list(dict.fromkeys(terms))[:MAX_QUERY_TERMS]


class Dialect:
    """Interface of a Cypher dialect."""

    name: str

    def schema_ddl(self, schema: GraphSchema, dims: int) -> list[DDL]:
        """DDL for every element of the schema, in dependency order."""
        raise NotImplementedError

    def vector_expr(self, expr: str) -> str:
        """Expression storing the list expression `expr` (e.g. `r.embedding`) as an indexed vector."""
        raise NotImplementedError

    def vector_value(self, param: str) -> str:
        """Expression storing the list parameter `$param` as an indexed vector."""
        return self.vector_expr(f"${param}")

    def vector_search(self, index: VectorIndex, k: str = "$k", vec: str = "$vec") -> str:
        """Fragment binding `node, score` (cosine similarity in [0, 1], best first)."""
        raise NotImplementedError

    def similarity(self, expr: str, vec: str = "$vec") -> str:
        """Expression: the exact cosine similarity of the stored vector `expr` to `vec`, on vector_search's scale."""
        raise NotImplementedError

    def fulltext_search(self, index: FulltextIndex, q: str = "$q") -> str:
        """Fragment binding `node, score` (relevance, higher is better, backend-specific scale)."""
        raise NotImplementedError

    def fulltext_query(self, text: str) -> str:
        """A safe any-term query string for `text` in this backend's syntax ('' if no terms)."""
        raise NotImplementedError

    def fulltext_query_all(self, text: str) -> str:
        """A safe every-term query string for `text` ('' if no terms)."""
        raise NotImplementedError


class Neo4jDialect(Dialect):
    """Neo4j 5.15+ (Lucene full-text, HNSW vector indexes with similarity scores)."""

    name = "neo4j"
    # From 5.23 a vector index quantises its vectors by default (`vector.quantization.enabled`): scores come from
    # 8-bit approximations. With the hashing embedder's sparse vectors that ranks by noise — against exact
    # cosine, top-10 recall fell to 0.39 at 655 turns (FalkorDB: 0.96), and the scores were off by up to
    # 0.07 — so the indexes keep full-precision vectors, as FalkorDB's do. Older servers have no such option.
    EXACT_VECTORS_OPTION_SINCE = (5, 23)
    FULLTEXT_ANALYZER = "english"

    def schema_ddl(self, schema: GraphSchema, dims: int, *, exact_vectors_option: bool = True) -> list[DDL]:
        """Idempotent DDL (`IF NOT EXISTS`); uniqueness constraints bring their own index.

        `schema.element_ranges` are skipped: a Neo4j range index cannot answer `$x IN n.list`.
        `exact_vectors_option` turns vector quantization off explicitly (servers from EXACT_VECTORS_OPTION_SINCE).
        """
        exact = ", `vector.quantization.enabled`: false" if exact_vectors_option else ""
        out = [
            DDL(
                "unique",
                lbl,
                ("id",),
                f"CREATE CONSTRAINT {ident(lbl.lower() + '_id_unique')} IF NOT EXISTS "
                f"FOR (n:{ident(lbl)}) REQUIRE n.id IS UNIQUE",
            )
            for lbl in schema.unique
        ]
        out += [
            DDL(
                "range",
                lbl,
                (prop,),
                f"CREATE INDEX {ident(f'{lbl.lower()}_{prop}')} IF NOT EXISTS "
                f"FOR (n:{ident(lbl)}) ON (n.{ident(prop)})",
            )
            for lbl, prop in schema.ranges
        ]
        out += [
            DDL(
                "vector",
                v.label,
                (v.prop,),
                f"CREATE VECTOR INDEX {ident(v.name)} IF NOT EXISTS FOR (n:{ident(v.label)}) "
                f"ON n.{ident(v.prop)} OPTIONS {{indexConfig: {{`vector.dimensions`: {int(dims)}, "
                f"`vector.similarity_function`: 'cosine'{exact}}}}}",
            )
            for v in schema.vectors
        ]
        out += [self.fulltext_ddl(f) for f in schema.fulltext]
        return out

    def fulltext_ddl(self, f: FulltextIndex, *, eventually_consistent: bool = False) -> DDL:
        """The full-text index `f`; `eventually_consistent` updates it after the commit, in the background."""
        later = ", `fulltext.eventually_consistent`: true" if eventually_consistent else ""
        return DDL(
            "fulltext",
            f.label,
            f.props,
            f"CREATE FULLTEXT INDEX {ident(f.name)} IF NOT EXISTS FOR (n:{ident(f.label)}) "
            f"ON EACH [{', '.join('n.' + ident(p) for p in f.props)}] "
            f"OPTIONS {{indexConfig: {{`fulltext.analyzer`: '{self.FULLTEXT_ANALYZER}'{later}}}}}",
        )

    def vector_expr(self, expr: str) -> str:
        return expr

    def vector_search(self, index: VectorIndex, k: str = "$k", vec: str = "$vec") -> str:
        return f"CALL db.index.vector.queryNodes('{index.name}', {k}, {vec}) YIELD node, score"

    def similarity(self, expr: str, vec: str = "$vec") -> str:
        return f"vector.similarity.cosine({expr}, {vec})"  # (1 + cos) / 2, as the index scores

    def fulltext_search(self, index: FulltextIndex, q: str = "$q") -> str:
        return f"CALL db.index.fulltext.queryNodes('{index.name}', {q}) YIELD node, score"

    def fulltext_query(self, text: str) -> str:
        # Word tokens only: Lucene operators and special characters can never reach the parser.
        return " OR ".join(query_terms(text))

    def fulltext_query_all(self, text: str) -> str:
        return " AND ".join(query_terms(text))


class FalkorDialect(Dialect):
    """FalkorDB 4.x (RediSearch full-text, HNSW vector indexes returning cosine *distance*)."""

    name = "falkordb"
    # HNSW build effort: candidates kept while a vector is inserted. FalkorDB's default is 200; Neo4j builds its
    # indexes with Lucene's defaults (M 16, beam width 100), so 100 gives both backends the same graphs. Inserting
    # into the Turn index is most of a bulk import's graph time: at 10k turns 100 cost about 30 % less server
    # CPU than 200, with top-10 recall against exact cosine 0.995-0.997 instead of 0.999
    # (benchmarks/results/import.md). A store created with another value keeps it until its index is rebuilt.
    EF_CONSTRUCTION = 100

    def schema_ddl(self, schema: GraphSchema, dims: int) -> list[DDL]:
        """Plain DDL; FalkorDB has no IF NOT EXISTS, so the store skips elements that exist.

        Uniqueness is the Redis command GRAPH.CONSTRAINT (not Cypher): its `statement` is the
        argument list after the graph name, and it needs the range index on `id` created first.
        """
        out = [DDL("range", lbl, ("id",), f"CREATE INDEX FOR (n:{ident(lbl)}) ON (n.id)") for lbl in schema.unique]
        out += [
            DDL("range", lbl, (prop,), f"CREATE INDEX FOR (n:{ident(lbl)}) ON (n.{ident(prop)})")
            for lbl, prop in schema.ranges + schema.element_ranges  # a range index on a list indexes its elements
        ]
        out += [DDL("unique", lbl, ("id",), f"UNIQUE NODE {lbl} PROPERTIES 1 id") for lbl in schema.unique]
        out += [
            DDL(
                "vector",
                v.label,
                (v.prop,),
                f"CREATE VECTOR INDEX FOR (n:{ident(v.label)}) ON (n.{ident(v.prop)}) "
                f"OPTIONS {{dimension: {int(dims)}, similarityFunction: 'cosine', efRuntime: 100, "
                f"efConstruction: {self.EF_CONSTRUCTION}}}",
            )
            for v in schema.vectors
        ]
        out += [
            DDL(
                "fulltext",
                f.label,
                f.props,
                f"CREATE FULLTEXT INDEX FOR (n:{ident(f.label)}) ON ({', '.join('n.' + ident(p) for p in f.props)})",
            )
            for f in schema.fulltext
        ]
        return out

    def vector_expr(self, expr: str) -> str:
        # A plain list is stored but silently not indexed on FalkorDB.
        return f"vecf32({expr})"

    def vector_search(self, index: VectorIndex, k: str = "$k", vec: str = "$vec") -> str:
        # FalkorDB returns cosine distance (1 - cos, in [0, 2]); Neo4j's similarity is (1 + cos) / 2.
        return (
            f"CALL db.idx.vector.queryNodes('{index.label}', '{index.prop}', {k}, vecf32({vec})) "
            f"YIELD node, score AS distance WITH node, 1.0 - distance / 2.0 AS score"
        )

    def similarity(self, expr: str, vec: str = "$vec") -> str:
        return f"1.0 - vec.cosineDistance({expr}, vecf32({vec})) / 2.0"

    def fulltext_search(self, index: FulltextIndex, q: str = "$q") -> str:
        return f"CALL db.idx.fulltext.queryNodes('{index.label}', {q}) YIELD node, score"

    def fulltext_query(self, text: str) -> str:
        # RediSearch: space means AND, `|` means OR. Word tokens only, so no syntax can be injected.
        return "|".join(query_terms(text))

    def fulltext_query_all(self, text: str) -> str:
        return " ".join(query_terms(text))  # RediSearch: space is AND


DIALECTS: dict[str, Dialect] = {"neo4j": Neo4jDialect(), "falkordb": FalkorDialect()}
