"""Every Neo4j-dialect statement the code can emit must pass Neo4j's own Cypher front end.

Neo4j cannot run on the test machines, so the statements are linted headlessly with
@neo4j-cypher/language-support (see tests/neo4j_lint.py and tools/neo4j_lint/). All statements of
this module are linted in a single Node process, on first use.
"""

from __future__ import annotations

import pytest
from neo4j_lint import Diagnostic, errors_only, format_report, lint, require_lint

# Each must produce at least one error: the linter is only worth something if it rejects these.
BROKEN = {
    "syntax_error": "MATCH (n:Entity RETURN n",
    # FalkorDB-only procedure and function: not present on Neo4j.
    "falkordb_vector_query": (
        "CALL db.idx.vector.queryNodes('Turn','embedding',10, vecf32($v)) YIELD node, score RETURN node.id"
    ),
    # Neo4j does not accept a parameter as a variable-length bound.
    "parameterised_depth": "MATCH (a)-[*1..$d]-(b) RETURN b.id",
    "undefined_variable": "MATCH (n:Entity) RETURN m.id",
    "wrong_arity": "CALL db.index.vector.queryNodes('turn_embedding', $k) YIELD node RETURN node.id",
}

# Correct Neo4j 5 statements: no errors allowed (warnings are fine).
GOOD = {
    "vector_index": (
        "CREATE VECTOR INDEX turn_embedding IF NOT EXISTS FOR (n:Turn) ON n.embedding "
        "OPTIONS {indexConfig: {`vector.dimensions`: 384, `vector.similarity_function`: 'cosine'}}"
    ),
    "vector_query": (
        "CALL db.index.vector.queryNodes('turn_embedding', $k, $vec) YIELD node, score RETURN node.id AS id, score"
    ),
    "fulltext_index": (
        "CREATE FULLTEXT INDEX entity_text IF NOT EXISTS FOR (n:Entity) ON EACH [n.name, n.description]"
    ),
    "fulltext_query": (
        "CALL db.index.fulltext.queryNodes('entity_text', $q) YIELD node, score RETURN node.id AS id, score"
    ),
    "unwind_merge": "UNWIND $rows AS r MERGE (t:Turn {id: r.id}) ON CREATE SET t += r.props",
    "unique_constraint": "CREATE CONSTRAINT turn_id IF NOT EXISTS FOR (n:Turn) REQUIRE n.id IS UNIQUE",
    "dynamic_label": "UNWIND $rows AS r MERGE (n:$(r.label) {id: r.id}) SET n += r.props",
    "bounded_expand": "MATCH (a:Entity {id: $id})-[*1..3]-(b:Entity) RETURN DISTINCT b.id AS id",
    "cosine": (
        "MATCH (t:Turn) WHERE t.embedding IS NOT NULL "
        "RETURN t.id AS id, vector.similarity.cosine(t.embedding, $vec) AS score ORDER BY score DESC LIMIT $k"
    ),
}


class _LintCache:
    """Lints BROKEN, GOOD and the registry's statements together in one Node run, on first use."""

    def __init__(self) -> None:
        self._results: dict[str, dict[str, list[Diagnostic]]] | None = None
        self.registry: dict[str, str] = {}
        self.registry_error: BaseException | None = None

    def _load_registry(self) -> None:
        try:
            from memory_runtime.stores.graph.registry import neo4j_statements

            self.registry = dict(neo4j_statements())
        except Exception as exc:  # reported by the registry test; the other tests still run
            self.registry_error = exc

    def get(self, group: str) -> dict[str, list[Diagnostic]]:
        if self._results is None:
            self._load_registry()
            groups = {"broken": BROKEN, "good": GOOD, "registry": self.registry}
            combined = {f"{g}/{name}": text for g, stmts in groups.items() for name, text in stmts.items()}
            flat = lint(combined)
            self._results = {g: {name: flat[f"{g}/{name}"] for name in stmts} for g, stmts in groups.items()}
        return self._results[group]


@pytest.fixture(scope="module")
def lint_cache() -> _LintCache:
    return _LintCache()


def test_linter_rejects_a_deliberately_broken_statement(lint_cache: _LintCache) -> None:
    require_lint()
    errors = errors_only(lint_cache.get("broken"))
    accepted = sorted(set(BROKEN) - set(errors))
    assert not accepted, f"the Neo4j linter accepted statements that must be errors: {accepted}"


def test_linter_accepts_portable_and_neo4j_statements(lint_cache: _LintCache) -> None:
    require_lint()
    errors = errors_only(lint_cache.get("good"))
    assert not errors, "valid Neo4j statements were rejected:\n" + format_report(errors, GOOD)


def test_every_neo4j_statement_the_code_emits_passes_the_linter(lint_cache: _LintCache) -> None:
    require_lint()
    results = lint_cache.get("registry")
    # The registry is the contract: if it cannot be imported (or raises) this test fails, never skips.
    if lint_cache.registry_error is not None:
        raise lint_cache.registry_error
    assert lint_cache.registry, "neo4j_statements() returned no statements"
    errors = errors_only(results)
    assert not errors, (
        f"{len(errors)} of {len(lint_cache.registry)} Neo4j statements fail Neo4j's Cypher front end:\n"
        + format_report(errors, lint_cache.registry)
    )
