"""The `agent-memory` command as a user runs it: exports, status, migrate, clear one-line errors."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MEMORY_", "DAGSTER_"))}
    return subprocess.run(
        [sys.executable, "-m", "memory_ops.cli", *args],
        env=base | (env or {}), cwd=cwd or REPO, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def exports(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        assert line.startswith("export "), line
        key, _, value = line[len("export ") :].partition("=")
        out[key] = shlex.split(value)[0]
    return out


def processes_mentioning(text: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                pids.append(int(proc.name))
    return pids


def test_up_exports_status_is_healthy_and_down_leaves_no_process(tmp_path):
    data = tmp_path / "stack"
    up = run("up", "--data-dir", str(data))
    assert up.returncode == 0, up.stderr
    env = exports(up.stdout)
    assert {"MEMORY_POSTGRES_URI", "MEMORY_GRAPH_URI", "MEMORY_REDIS_URI", "DAGSTER_PG_URL", "DAGSTER_HOME"} <= set(env)
    try:
        status = run("status", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.count("healthy") == 3
        assert processes_mentioning(str(data))
    finally:
        down = run("down", "--data-dir", str(data))
    assert down.returncode == 0, down.stderr
    assert processes_mentioning(str(data)) == []
    after = run("status", "--data-dir", str(data))
    assert after.returncode == 1 and "DOWN" in after.stdout


def test_up_with_neo4j_exports_bolt_status_shows_its_version_and_vector_indexes_and_down_stops_it(tmp_path):
    from graph_server import require_neo4j_tools

    require_neo4j_tools()
    data = tmp_path / "stack"
    up = run("up", "--graph", "neo4j", "--data-dir", str(data))
    assert up.returncode == 0, up.stderr
    env = exports(up.stdout)
    try:
        assert env["MEMORY_GRAPH_URI"].startswith("bolt://127.0.0.1:") and env["MEMORY_GRAPH"] == "neo4j"
        assert env["MEMORY_NEO4J_USER"] == "neo4j" and len(env["MEMORY_NEO4J_PASSWORD"]) >= 24
        again = run("up", "--data-dir", str(data))  # the recorded graph: the same running Neo4j is reused
        assert exports(again.stdout)["MEMORY_GRAPH_URI"] == env["MEMORY_GRAPH_URI"]
        assert run("migrate", env=env).returncode == 0
        status = run("status", "--data-dir", str(data))
        assert status.returncode == 0, status.stdout + status.stderr
        neo4j_line = next(line for line in status.stdout.splitlines() if line.startswith("neo4j"))
        assert "healthy" in neo4j_line and "Neo4j 5." in neo4j_line
        vectors_line = next(line for line in status.stdout.splitlines() if line.startswith("vectors"))
        assert "online" in vectors_line and "Turn 384d" in vectors_line
    finally:
        down = run("down", "--data-dir", str(data))
    assert down.returncode == 0, down.stderr
    assert processes_mentioning(str(data)) == []


def _env_for(settings) -> dict[str, str]:
    return {
        "MEMORY_POSTGRES_URI": settings.postgres_uri,
        "MEMORY_POSTGRES_SCHEMA": settings.postgres_schema,
        "MEMORY_GRAPH_URI": settings.graph_uri,
        "MEMORY_GRAPH_NAME": settings.graph_name,
        "MEMORY_REDIS_URI": settings.redis_uri,
        "MEMORY_REDIS_PREFIX": settings.redis_prefix,
        "MEMORY_EMBEDDING_DIMENSIONS": str(settings.embedding_dimensions),
    }


def test_migrate_twice_is_a_no_op_the_second_time(settings):
    first = run("migrate", env=_env_for(settings))
    second = run("migrate", env=_env_for(settings))
    assert first.returncode == 0 and "applied" in first.stdout, first.stderr
    assert second.returncode == 0 and "nothing to do" in second.stdout


def test_dimension_mismatch_is_one_clear_line_not_a_traceback(settings):
    assert run("migrate", env=_env_for(settings)).returncode == 0
    bad = run("migrate", env=_env_for(settings) | {"MEMORY_EMBEDDING_DIMENSIONS": "128"})
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "MEMORY_EMBEDDING_DIMENSIONS=128" in bad.stderr


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ({"MEMORY_GRAPH_URI": "mysql://nowhere"}, "MEMORY_GRAPH_URI"),
        ({"MEMORY_POSTGRES_URI": "postgresql://nobody@/agent_memory?host=/nonexistent"}, "MEMORY_POSTGRES_URI"),
        ({"MEMORY_REDIS_URI": "unix:///nonexistent/redis.sock"}, "MEMORY_REDIS_URI"),
        ({"MEMORY_GRAPH_URI": "falkor+unix:///nonexistent/g.sock"}, "MEMORY_GRAPH_URI"),
        ({"MEMORY_GRAPH_URI": "bolt://127.0.0.1:1"}, "MEMORY_NEO4J_USER"),
    ],
)
def test_bad_or_unreachable_store_names_the_store_and_setting(settings, override, names):
    result = run("status", env=_env_for(settings) | override)
    assert result.returncode == 1
    assert names in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_neo4j_credentials_name_the_setting(settings):
    env = _env_for(settings) | {"MEMORY_GRAPH_URI": "bolt://127.0.0.1:1", "MEMORY_NEO4J_USER": "neo4j",
                                "MEMORY_NEO4J_PASSWORD": "wrong"}  # fmt: skip
    result = run("status", env=env)
    assert result.returncode == 1 and "MEMORY_GRAPH_URI" in result.stdout
