"""Layering rules of the code base, checked by parsing the source (no imports, no stores)."""


def test_dagster_code_calls_only_batch_and_the_resource() -> None:
    """The Dagster packages are orchestration: they call `memory_runtime.batch` through the resource's Stores.

    Fails on a `.pg` / `.graph` / `.redis` attribute access (a store client reached through Stores), on an
    import of a memory_runtime module other than `batch` and `config` (plus `stores.bundle` in resources/) or
    of a store driver, and on a string that looks like SQL or Cypher.
    """
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    packages = ("memory_assets", "sensors", "schedules", "resources")
    allowed = ("memory_runtime.batch", "memory_runtime.config")
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
