"""The wheel agents install: every runtime and operations package, the migrations, no Dagster code location."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_runtime_and_ops_package_is_listed_for_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("memory_runtime", "memory_ops")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk | {"memory_runtime._schema", "memory_runtime._schema.postgres"} == listed


def test_the_runtime_library_never_imports_dagster():
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "memory_runtime").rglob("*.py")
        if "import dagster" in p.read_text() or "from dagster" in p.read_text()
    ]
    assert offenders == []


def test_the_wheel_ships_the_py_typed_marker_of_the_runtime_library():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert (ROOT / "memory_runtime" / "py.typed").is_file()
    assert "py.typed" in package_data["memory_runtime"]
