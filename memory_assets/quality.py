"""The memory-quality checks as one readable table, for the metadata of the assets they guard.

The asset checks (`checks.py`) decide pass/fail per check and show up on the Checks tab; this table puts the
same measurements (`memory_runtime.batch.checks`) on each `semantic_memory` materialisation, so a run's page
shows at a glance what consolidation left behind. The thresholds live here and `checks.py` uses them.
"""

from typing import Any

from memory_assets._common import markdown_table
from memory_runtime.batch import checks as quality
from resources import MemoryStoreResource

DUPLICATE_ENTITY_MAX_RATE = 0.02  # duplicates / entities with the same (user, type, norm_name)
COLUMNS = ["check", "measured", "expected", "result"]


def _row(check: str, measured: Any, expected: str, passed: bool, blocking: bool = False) -> dict[str, Any]:
    verdict = "pass" if passed else ("FAIL (blocking)" if blocking else "WARN")
    return {"check": check, "measured": measured, "expected": expected, "result": verdict}


def quality_rows(memory: MemoryStoreResource) -> list[dict[str, Any]]:
    """One row per quality check: what was measured, what is expected, and the verdict."""
    stores = memory.stores
    edges = quality.cross_user_edges(stores)
    untraceable = quality.untraceable_facts(stores)
    scores = quality.scores_out_of_range(stores)
    duplicates = quality.duplicate_entities(stores)
    dims = quality.embedding_dimensions(stores)
    embedder = quality.embedder_state(stores)
    return [
        _row("no_cross_user_edges", edges.total, "0", edges.total == 0, blocking=True),
        _row("facts_trace_to_turns", untraceable.count, "0 untraceable", untraceable.count == 0, blocking=True),
        _row("scores_in_unit_range", scores.total, "0 outside [0, 1]", scores.total == 0),
        _row(
            "duplicate_entity_rate",
            f"{duplicates.rate:.2%} ({duplicates.duplicates} of {duplicates.entities})",
            f"<= {DUPLICATE_ENTITY_MAX_RATE:.0%}",
            duplicates.rate <= DUPLICATE_ENTITY_MAX_RATE,
        ),
        _row(
            "embedding_dimensions_match", "; ".join(dims.problems) or "all match", f"{dims.expected}", not dims.problems
        ),
        _row(
            "vectors_from_configured_embedder",
            embedder.recorded or "not recorded",
            embedder.configured,
            not embedder.fix,
        ),
    ]


def quality_table(memory: MemoryStoreResource) -> str:
    """The quality checks as a markdown table."""
    return markdown_table(quality_rows(memory), COLUMNS, limit=20)
