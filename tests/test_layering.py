"""Layering rules of the code base, checked by parsing the source (no stores): SQL and Cypher live only in
`stores/`, the Dagster code calls only `memory_runtime.batch`, and every batch module imports on its own.

The scan reads every string literal of the scanned packages (docstrings and comments are prose, not
statements) and looks for the shapes of SQL and Cypher statements. A failure names the file and line of each
statement found, so the fix is to move it into a repository (`memory_runtime/stores/postgres/<aggregate>.py`)
or a Cypher builder (`memory_runtime/stores/graph/queries/`) and call that.
"""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Every package whose modules must hold no query text, as paths relative to the repository root.
SCANNED_PACKAGES = ("memory_runtime", "memory_ops", "memory_assets", "sensors", "schedules", "resources")
# Where the query text belongs.
QUERY_HOMES = frozenset({"memory_runtime/stores"})
# Parts exempted while their statements are being moved into `stores/` (e.g. "memory_assets"); empty now that
# every scanned package is clean. test_not_yet_clean_packages_still_hold_queries says when one can leave it.
NOT_YET_CLEAN: frozenset[str] = frozenset()

SQL_SHAPES = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\bSELECT\b[\s\S]+?\bFROM\b",
        r"\bINSERT\s+INTO\b",
        r"\bUPDATE\s+\w+(\s+AS\s+\w+)?\s+SET\b",
        r"\bDELETE\s+FROM\b",
        r"\bCOPY\s+\w+[\s\S]*?\b(FROM\s+STDIN|TO\s+STDOUT)\b",
        r"\bCREATE\s+(TEMP|TEMPORARY|UNLOGGED|TABLE|SCHEMA|INDEX|UNIQUE|EXTENSION|DATABASE|VIEW)\b",
        r"\bON\s+CONFLICT\b",
        r"\bpg_advisory_\w*lock\b",
        r"^\s*SHOW\s+\w+\s*$",
        r"^\s*SELECT\s+\d+\s*$",
    )
)
CYPHER_SHAPES = tuple(
    re.compile(p)
    for p in (
        r"\bMATCH\s*\(",
        r"\bMERGE\s*\(",
        r"\bCALL\s+db\.",
        r"\bDETACH\s+DELETE\b",
        r"\bUNWIND\s+\$",
    )
)


def _package_of(path: Path) -> str:
    """The longest configured prefix (home, pending part or scanned package) the file lies under."""
    rel = path.relative_to(ROOT).as_posix()
    prefixes = [p for p in (*QUERY_HOMES, *NOT_YET_CLEAN, *SCANNED_PACKAGES) if rel == p or rel.startswith(p + "/")]
    return max(prefixes, key=len)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _literals(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, text) of each string literal; an f-string is one text with `{}` for its fields."""
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v.value if isinstance(v, ast.Constant) else "{}" for v in node.values]
            skip.update(id(v) for v in node.values)
            yield node.lineno, "".join(str(p) for p in parts)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


def _queries(path: Path, shapes: tuple[re.Pattern[str], ...]) -> list[str]:
    """`file:line: text` of every literal in `path` that has one of the statement `shapes`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for line, text in _literals(tree):
        for shape in shapes:
            m = shape.search(text)
            if m:
                at = line + text[: m.start()].count("\n")
                snippet = " ".join(text[m.start() :].split())[:70]
                found.append(f"{path.relative_to(ROOT)}:{at}: {snippet}")
                break
    return found


def _modules() -> Iterator[tuple[str, Path]]:
    for package in SCANNED_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield _package_of(path), path


def _outside_stores(shapes: tuple[re.Pattern[str], ...]) -> list[str]:
    return [
        hit
        for part, path in _modules()
        if part not in QUERY_HOMES and part not in NOT_YET_CLEAN
        for hit in _queries(path, shapes)
    ]


def test_no_sql_outside_stores() -> None:
    found = _outside_stores(SQL_SHAPES)
    assert not found, "SQL outside memory_runtime/stores/ (move it into a stores/postgres repository):\n" + "\n".join(
        found
    )


def test_no_cypher_outside_stores() -> None:
    found = _outside_stores(CYPHER_SHAPES)
    assert not found, "Cypher outside memory_runtime/stores/ (move it into stores/graph/queries/):\n" + "\n".join(found)


def test_not_yet_clean_packages_still_hold_queries() -> None:
    """A pending part that has become clean is taken off NOT_YET_CLEAN, so it stays clean."""
    holding = {part for part, path in _modules() if _queries(path, SQL_SHAPES + CYPHER_SHAPES)}
    clean = sorted(NOT_YET_CLEAN - holding)
    assert not clean, f"no SQL or Cypher left in {clean}: remove them from NOT_YET_CLEAN in {Path(__file__).name}"


def test_the_scan_finds_statements_of_each_shape() -> None:
    """The scanner itself: each statement shape in use here is recognised, prose is not."""
    statements = [
        "SELECT id, user_id FROM conversations WHERE id = ANY(%s)",
        "INSERT INTO tool_invocations (id) VALUES (%s)",
        "UPDATE conversation_logs AS c SET embedding = v.embedding::vector",
        "DELETE FROM memory_settings WHERE key = ANY(%s)",
        "COPY turn_stage (id) FROM STDIN (FORMAT BINARY)",
        "CREATE TEMP TABLE IF NOT EXISTS turn_stage (id uuid)",
        "create extension if not exists {}",
        "show server_version",
    ]
    prose = ["binary COPY each", "select the user to import as", "update the graph from the log", "MATCH"]
    assert all(any(s.search(t) for s in SQL_SHAPES) for t in statements)
    assert not [t for t in prose if any(s.search(t) for s in SQL_SHAPES + CYPHER_SHAPES)]
    assert any(s.search("MATCH (t:Turn {id: $id}) RETURN t") for s in CYPHER_SHAPES)


def test_dagster_code_calls_only_batch_and_the_resource() -> None:
    """The Dagster packages are orchestration: they call `memory_runtime.batch` through the resource's Stores.

    Fails on a `.pg` / `.graph` / `.redis` attribute access (a store client reached through Stores), on an
    import of a memory_runtime module other than `batch`, `config` and `tracing` (plus `stores.bundle` in resources/) or
    of a store driver, and on a string that looks like SQL or Cypher.
    """
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    packages = ("memory_assets", "sensors", "schedules", "resources")
    allowed = ("memory_runtime.batch", "memory_runtime.config", "memory_runtime.tracing")  # tracing: the run's span
    allowed_in = {"resources": ("memory_runtime.stores.bundle",)}
    drivers = ("psycopg", "psycopg_pool", "redis", "falkordb", "neo4j", "pgvector")
    store_attributes = {"pg", "graph", "redis"}
    statement = re.compile(
        r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+[\s\S]*\bSET\b|\bDELETE\s+FROM\b"
        r"|\bON\s+CONFLICT\b|\bCOPY\s+\w+|\bCREATE\s+(TEMP|TABLE|INDEX)\b"
        r"|\b(MATCH|MERGE)\s*\(|\bCALL\s+db\.|\bUNWIND\s+\$|\bDETACH\s+DELETE\b|\bRETURN\s+\w+(\.\w+)?\s+AS\b"
    )

    def module_ok(name: str, package: str) -> bool:
        if name.split(".")[0] in drivers:
            return False
        if name != "memory_runtime" and not name.startswith("memory_runtime."):
            return True
        return any(name == p or name.startswith(p + ".") for p in allowed + allowed_in.get(package, ()))

    def problems(source: str, package: str, where: str) -> list[str]:
        found = []
        for node in ast.walk(ast.parse(source)):
            line = f"{where}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Attribute) and node.attr in store_attributes:
                found.append(f"{line}: store client `.{node.attr}` (call a memory_runtime.batch function)")
            elif isinstance(node, ast.Import):
                found += [f"{line}: imports {a.name}" for a in node.names if not module_ok(a.name, package)]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = (
                    [node.module]
                    if node.module != "memory_runtime"
                    else [f"memory_runtime.{a.name}" for a in node.names]
                )
                found += [f"{line}: imports from {n}" for n in names if not module_ok(n, package)]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and statement.search(node.value):
                found.append(f"{line}: SQL or Cypher text {node.value.strip()[:60]!r}")
        return found

    # The detector itself must catch each kind of offence.
    bad = (
        "from memory_runtime.stores.graph.queries import quality\nimport psycopg\n"
        "from memory_runtime import memory\nstores.pg.fetch('SELECT 1 FROM t')\n"
        "stores.graph.read('MATCH (n) RETURN n.id AS id')\nq.redis\n"
    )
    assert len(problems(bad, "memory_assets", "sample")) == 8, problems(bad, "memory_assets", "sample")

    files = [f for package in packages for f in sorted((root / package).rglob("*.py"))]
    assert len(files) >= 15, files
    found = [
        p
        for f in files
        for p in problems(f.read_text(encoding="utf-8"), f.relative_to(root).parts[0], str(f.relative_to(root)))
    ]
    assert not found, "Dagster code must call memory_runtime.batch, not the stores:\n" + "\n".join(found)


def test_every_batch_module_imports_first_in_a_fresh_interpreter() -> None:
    """No import cycle through `memory_runtime.batch`: each module imports on its own, before anything else.

    `extraction` once imported `batch.consolidate` at import time, so importing `batch.consolidate` first
    failed half-way through the cycle.
    """
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    modules = sorted(f"memory_runtime.batch.{p.stem}" for p in (root / "memory_runtime" / "batch").glob("[!_]*.py"))
    assert len(modules) >= 12, modules
    procs = {
        m: subprocess.Popen(
            [sys.executable, "-c", f"import {m}"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for m in modules
    }
    failed = {m: p.communicate(timeout=120)[0].decode()[-600:] for m, p in procs.items()}
    failed = {m: out for m, out in failed.items() if procs[m].returncode != 0}
    assert not failed, "\n\n".join(f"{m}:\n{out}" for m, out in failed.items())
