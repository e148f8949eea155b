"""Render schema/graph/<dialect>.cypher from the graph schema spec (memory_runtime/stores/graph/schema.py).

    .venv/bin/python tools/render_graph_schema.py        # rewrite the files
    .venv/bin/python tools/render_graph_schema.py --check  # exit 1 if they are out of date (the test does this)

The files are for people and reviews; `agent-memory migrate` renders the same DDL with the configured
embedding dimension and applies only what is missing.
"""

import sys
from pathlib import Path

from memory_runtime.stores.graph.dialect import DIALECTS
from memory_runtime.stores.graph.schema import SCHEMA

ROOT = Path(__file__).resolve().parent.parent
DIMS = 384


def render(dialect_name: str) -> str:
    """The DDL file text for one dialect."""
    dialect = DIALECTS[dialect_name]
    lines = [
        f"// Graph schema for {dialect_name}, rendered from memory_runtime/stores/graph/schema.py by",
        "// tools/render_graph_schema.py for the default 384 dimensions (`agent-memory migrate` uses the configured",
        "// MEMORY_EMBEDDING_DIMENSIONS and creates only what is missing).",
    ]
    if dialect_name == "falkordb":
        lines.append(
            "// FalkorDB has no IF NOT EXISTS; uniqueness is the Redis command GRAPH.CONSTRAINT (shown as comments)."
        )
    for ddl in dialect.schema_ddl(SCHEMA, DIMS):
        if dialect_name == "falkordb" and ddl.kind == "unique":
            lines.append(f"// GRAPH.CONSTRAINT CREATE <graph> {ddl.statement}")
        else:
            lines.append(ddl.statement + ";")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    stale = []
    for name in DIALECTS:
        path = ROOT / "schema" / "graph" / f"{name}.cypher"
        text = render(name)
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text)
    if stale:
        print(f"out of date: {', '.join(stale)}; run .venv/bin/python tools/render_graph_schema.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
