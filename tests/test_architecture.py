"""The dependency direction of docs/architecture.md, enforced on every import (also those inside functions).

domain ← embeddings ← stores ← memory/retrieval/extraction ← api/batch ← Dagster code and memory_ops.
A module imports only from its own layer or the layers below it, and no two modules import each other,
directly or through others.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("memory_runtime", "memory_ops", "memory_assets", "sensors", "schedules", "resources")

# Lowest first. A module belongs to the first layer one of whose prefixes it starts with.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "domain",
        (
            "memory_runtime.domain",
            "memory_runtime.config",
            "memory_runtime.metrics",
            "memory_runtime.tracing",
            "memory_runtime.errors",
        ),
    ),
    ("embeddings", ("memory_runtime.embeddings",)),
    ("stores", ("memory_runtime.stores",)),
    ("memory", ("memory_runtime.memory", "memory_runtime.retrieval", "memory_runtime.extraction")),
    ("api and batch", ("memory_runtime.api", "memory_runtime.batch", "memory_runtime")),
    ("dagster resources", ("resources",)),
    ("dagster code and operations", ("memory_assets", "sensors", "schedules", "memory_ops")),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _imports(path: Path, module: str) -> Iterator[tuple[str, int]]:
    """Every project module `path` imports (absolute or relative, at any depth), with the line."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, node.lineno
            for alias in node.names:  # `from pkg import module`
                yield f"{base}.{alias.name}", node.lineno


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an imported name refers to (the longest known prefix), or None."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _layer(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def _graph() -> dict[str, dict[str, int]]:
    modules = _modules()
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges = graph.setdefault(module, {})
        for name, line in _imports(path, module):
            target = _resolve(name, modules)
            if target is not None and target != module and not module.startswith(target + "."):
                edges.setdefault(target, line)
    return graph


def test_every_import_points_to_the_same_layer_or_below():
    wrong = [
        f"{src} (line {line}, layer {LAYERS[_layer(src)][0]}) imports {dst} (layer {LAYERS[_layer(dst)][0]})"
        for src, edges in _graph().items()
        for dst, line in edges.items()
        if _layer(dst) > _layer(src)
    ]
    assert wrong == []


def test_the_runtime_never_imports_the_dagster_code_or_the_operations():
    outside = ("memory_ops", "memory_assets", "sensors", "schedules", "resources", "dagster")
    wrong = [
        f"{src} imports {name} (line {line})"
        for src, path in _modules().items()
        if src.split(".")[0] == "memory_runtime"
        for name, line in _imports(path, src)
        if name.split(".")[0] in outside
    ]
    assert wrong == []


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_two_modules_import_each_other():
    assert _cycles(_graph()) == []


def test_the_layer_check_sees_a_wrong_import():
    """The checks above would catch a violation: the store layer importing the façade is one."""
    assert _layer("memory_runtime.api") > _layer("memory_runtime.stores.bundle")
    assert _cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c"]]
