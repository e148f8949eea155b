"""Real embedded servers (no mocks): start, reuse, recover, stop, long paths.

Each test module run uses its own data directories from `tmp_path_factory`, so it never touches the
session stack of `conftest.py` or the servers of another test session.
"""

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from memory_ops.stack.embedded import EmbeddedStack, StackEnv, StoreStatus

EXPORT_KEYS = {
    "MEMORY_POSTGRES_URI",
    "MEMORY_REDIS_URI",
    "MEMORY_GRAPH_URI",
    "MEMORY_DATA_DIR",
    "DAGSTER_PG_URL",
    "DAGSTER_HOME",
}


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """A stack of its own for this module; stopped at the end whatever happened."""
    stack = EmbeddedStack(tmp_path_factory.mktemp("services") / "data")
    try:
        yield stack
    finally:
        stack.down()


def _by_name(statuses: list[StoreStatus]) -> dict[str, StoreStatus]:
    return {s.name: s for s in statuses}


def _assert_healthy(stack: EmbeddedStack) -> None:
    statuses = _by_name(stack.status())
    assert set(statuses) == {"postgres", "redis", "falkordb"}
    assert all(s.healthy for s in statuses.values()), statuses
    assert statuses["postgres"].version.startswith("PostgreSQL ")
    assert ", pgvector " in statuses["postgres"].version
    assert statuses["redis"].version.startswith("Redis ")
    assert statuses["falkordb"].version.startswith("FalkorDB ")


def _server_pids(stack: EmbeddedStack) -> tuple[int, int]:
    """(postmaster pid, redis-server pid) as recorded in the data directory."""
    pg_pid = int((stack.pg_dir / "postmaster.pid").read_text().splitlines()[0])
    redis_pid = int(stack.falkordb.redis_pid_file.read_text().split()[0])
    return pg_pid, redis_pid


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _processes_mentioning(*needles: str) -> dict[int, str]:
    """Live (non-zombie) processes whose command line contains one of `needles`."""
    found: dict[int, str] = {}
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.info["pid"] == os.getpid():
            continue
        cmdline = " ".join(arg for arg in proc.info["cmdline"] or [] if arg)
        if any(needle in cmdline for needle in needles):
            found[proc.info["pid"]] = cmdline
    return found


def _redis_socket(env: StackEnv) -> str:
    return env.redis_uri.removeprefix("unix://")


def _wait_dead(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid), f"pid {pid} survived SIGKILL"


def test_nothing_running_is_reported_without_side_effects(tmp_path: Path) -> None:
    stack = EmbeddedStack(tmp_path / "never-started")
    env = stack.env()
    assert env.data_dir == (tmp_path / "never-started").resolve()
    statuses = _by_name(stack.status())
    assert not any(s.healthy for s in statuses.values())
    assert "not running" in statuses["postgres"].detail
    stack.down()
    assert not (tmp_path / "never-started").exists()


def test_up_starts_healthy_stores_and_writes_dagster_home(embedded: EmbeddedStack) -> None:
    env = embedded.up()
    assert env.data_dir.is_absolute()
    _assert_healthy(embedded)
    assert env == embedded.env()
    assert set(env.exports()) == EXPORT_KEYS
    assert env.postgres_uri.startswith("postgresql://") and "/agent_memory?" in env.postgres_uri
    assert env.dagster_pg_url.startswith("postgresql+psycopg2://") and "/dagster?" in env.dagster_pg_url
    assert env.graph_uri == "falkor+" + env.redis_uri
    assert env.dagster_home.is_absolute()
    expected = (Path(__file__).resolve().parents[1] / "memory_ops" / "dagster_instance.yaml").read_text()
    assert (env.dagster_home / "dagster.yaml").read_text() == expected
    assert "QueuedRunCoordinator" in expected

    import psycopg
    import redis
    from falkordb import FalkorDB

    with psycopg.connect(env.postgres_uri, autocommit=True) as conn:
        exts = {row[0] for row in conn.execute("select extname from pg_extension")}
        assert {"vector", "pg_trgm"} <= exts
    with psycopg.connect(env.dagster_pg_url.replace("+psycopg2", ""), autocommit=True) as conn:
        assert conn.execute("select current_database()").fetchone() == ("dagster",)
    client = redis.Redis.from_url(env.redis_uri)
    try:
        assert client.ping()
    finally:
        client.close()
    graph = FalkorDB(unix_socket_path=_redis_socket(env)).select_graph("test_services")
    try:
        assert graph.query("RETURN 1 + 1").result_set == [[2]]
    finally:
        graph.delete()


def test_second_up_reuses_the_running_servers(embedded: EmbeddedStack) -> None:
    env = embedded.up()
    before = _server_pids(embedded)
    processes_before = set(_processes_mentioning(str(embedded.data_dir), _redis_socket(env)))
    assert env == EmbeddedStack(embedded.data_dir).up()  # a fresh object, as another CLI call would be
    assert _server_pids(embedded) == before
    assert set(_processes_mentioning(str(embedded.data_dir), _redis_socket(env))) == processes_before


def test_up_recovers_after_kill_9_of_redis(embedded: EmbeddedStack) -> None:
    env = embedded.up()
    pg_pid, redis_pid = _server_pids(embedded)
    os.kill(redis_pid, signal.SIGKILL)
    _wait_dead(redis_pid)
    assert not _by_name(embedded.status())["redis"].healthy
    assert embedded.up() == env
    new_pg_pid, new_redis_pid = _server_pids(embedded)
    assert new_pg_pid == pg_pid
    assert new_redis_pid != redis_pid
    _assert_healthy(embedded)


def test_up_recovers_after_kill_9_of_postgres(embedded: EmbeddedStack) -> None:
    embedded.up()
    pg_pid, redis_pid = _server_pids(embedded)
    os.kill(pg_pid, signal.SIGKILL)  # leaves postmaster.pid and the socket lock file behind (P-P2)
    _wait_dead(pg_pid)
    assert not _by_name(embedded.status())["postgres"].healthy
    embedded.up()
    new_pg_pid, new_redis_pid = _server_pids(embedded)
    assert new_pg_pid != pg_pid
    assert new_redis_pid == redis_pid
    _assert_healthy(embedded)


def test_down_leaves_no_process_behind(embedded: EmbeddedStack) -> None:
    env = embedded.up()
    pg_pid, redis_pid = _server_pids(embedded)
    pids = {pg_pid, redis_pid, *(child.pid for child in psutil.Process(pg_pid).children(recursive=True))}
    assert len(pids) > 3  # postmaster, its workers, redis
    embedded.down()
    assert not [pid for pid in pids if _alive(pid)]
    assert _processes_mentioning(str(embedded.data_dir), _redis_socket(env)) == {}
    statuses = _by_name(embedded.status())
    assert not any(s.healthy for s in statuses.values()), statuses
    assert all(s.detail for s in statuses.values())
    embedded.down()  # safe when nothing runs


def test_long_data_dir_path_uses_short_sockets(tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.mktemp("long")
    data_dir = base / ("d" * max(1, 120 - len(str(base))))
    assert len(str(data_dir)) > 110
    stack = EmbeddedStack(data_dir)
    try:
        env = stack.up()
        sock = _redis_socket(env)
        assert len(sock.encode()) <= 100 and not sock.startswith(str(data_dir))
        assert "host=" in env.postgres_uri and f"host={data_dir}" not in env.postgres_uri
        _assert_healthy(stack)
        assert EmbeddedStack(data_dir).env() == env
    finally:
        stack.down()
    assert _processes_mentioning(str(data_dir), sock) == {}
    assert not _by_name(stack.status())["redis"].healthy
