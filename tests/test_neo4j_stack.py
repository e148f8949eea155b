"""The local Neo4j server (memory_ops/stack/neo4j.py): lifecycle on a real server, and every typed error."""

import os
import shutil
import signal
import socket
import stat
import tempfile
import time
from pathlib import Path

import pytest
from graph_server import require_neo4j_tools

from memory_ops.stack.neo4j import (
    LAUNCHER_SOURCES,
    EmbeddedNeo4j,
    JavaMissing,
    MavenCentralUnreachable,
    MavenMissing,
    Neo4jLauncher,
    Neo4jStackError,
    Neo4jStartFailed,
    Neo4jVersionError,
    PortInUse,
    check_server,
    find_java,
    require_version,
)


def _sources_copy(tmp_path: Path) -> Path:
    """The launcher's sources in a fresh directory: a launcher that has never been built."""
    copy = tmp_path / "launcher"
    copy.mkdir()
    shutil.copy(LAUNCHER_SOURCES / "pom.xml", copy / "pom.xml")
    shutil.copytree(LAUNCHER_SOURCES / "src", copy / "src")
    return copy


def test_java_missing_says_to_install_a_jdk_and_names_java_home(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(JavaMissing, match=r"JDK 17 or newer.*JAVA_HOME"):
        find_java()
    missing = Neo4jLauncher().missing_tools()
    assert any("Java is missing" in m for m in missing), missing


def test_maven_missing_is_reported_only_when_a_build_is_due(monkeypatch, tmp_path):
    monkeypatch.delenv("MAVEN_HOME", raising=False)
    java = find_java()
    monkeypatch.setenv("JAVA_HOME", str(Path(java).resolve().parents[1]))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    launcher = Neo4jLauncher(_sources_copy(tmp_path), maven_repo=tmp_path / "m2")
    missing = launcher.missing_tools()
    assert len(missing) == 1 and "Maven is missing" in missing[0], missing
    with pytest.raises(MavenMissing, match="apt-get install maven"):
        launcher.ensure_built()


def test_an_unreachable_maven_central_is_a_typed_error_with_the_log(monkeypatch, tmp_path):
    fake = tmp_path / "maven" / "bin" / "mvn"
    fake.parent.mkdir(parents=True)
    fake.write_text(
        "#!/bin/sh\n"
        "echo '[ERROR] Failed to execute goal on project neo4j-launcher: Could not resolve dependencies: "
        "Could not transfer artifact org.neo4j:neo4j:pom:5.26.30 from/to central "
        "(https://repo.maven.apache.org/maven2): Unknown host repo.maven.apache.org'\n"
        "exit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("MAVEN_HOME", str(fake.parents[1]))
    launcher = Neo4jLauncher(_sources_copy(tmp_path), maven_repo=tmp_path / "m2")
    with pytest.raises(MavenCentralUnreachable, match=r"Maven Central(.|\n)*Unknown host"):
        launcher.ensure_built()


def test_a_fixed_port_that_is_taken_is_refused(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port}"):
            EmbeddedNeo4j(tmp_path / "n", port=port).up()


@pytest.mark.parametrize(
    ("version", "ok"), [("5.12.0", False), ("4.4.30", False), ("5.13.0", True), ("5.26.30", True), ("2025.01.0", True)]
)
def test_servers_older_than_5_13_are_refused(version, ok):
    if ok:
        require_version(version, "bolt://db:7687")
    else:
        with pytest.raises(Neo4jVersionError, match=rf"Neo4j {version}.*5\.13 or newer"):
            require_version(version, "bolt://db:7687")


@pytest.mark.neo4j
def test_a_server_that_dies_at_start_shows_the_tail_of_its_log(tmp_path):
    require_neo4j_tools()
    with pytest.raises(Neo4jStartFailed, match=r"exited with status(.|\n)*not-a-size"):
        EmbeddedNeo4j(tmp_path / "n", pagecache="not-a-size").up()


@pytest.mark.neo4j
def test_up_reuses_a_running_server_and_restarts_a_crashed_one_keeping_its_data():
    require_neo4j_tools()
    import neo4j

    directory = Path(tempfile.mkdtemp(prefix="am-ns-"))
    server = EmbeddedNeo4j(directory / "n")
    try:
        started = time.monotonic()
        env = server.up()
        cold_s = time.monotonic() - started
        assert env.uri.startswith("bolt://127.0.0.1:") and env.user == "neo4j" and env.version.startswith("5.26")
        credentials = directory / "n" / "credentials"
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600 and len(env.password) >= 24
        assert env.password not in repr(env)
        pid = server.pid()
        assert pid is not None and env.password not in Path(f"/proc/{pid}/cmdline").read_text()

        assert server.up() == env and server.pid() == pid  # reused, not restarted
        assert server.status().running
        assert check_server(env.uri, env.user, env.password) == env.version
        with pytest.raises(Neo4jStackError, match="rejected the credentials"):
            check_server(env.uri, env.user, "wrong-password")

        with neo4j.GraphDatabase.driver(env.uri, auth=(env.user, env.password)) as driver:
            driver.execute_query("CREATE (:Probe {id: 'kept'})")
        os.kill(pid, signal.SIGKILL)  # a crash: committed data must survive in the transaction log
        deadline = time.monotonic() + 10
        while server.status().running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.status().running
        started = time.monotonic()
        again = server.up()
        warm_s = time.monotonic() - started
        assert server.pid() not in (None, pid) and (again.uri, again.user, again.password) == (
            env.uri,
            env.user,
            env.password,
        )
        with neo4j.GraphDatabase.driver(again.uri, auth=(again.user, again.password)) as driver:
            records, _, _ = driver.execute_query("MATCH (p:Probe) RETURN p.id AS id")
        assert [r["id"] for r in records] == ["kept"]
        print(f"[neo4j] first start {cold_s:.1f} s, restart after SIGKILL (recovery) {warm_s:.1f} s")

        server.down()
        assert server.pid() is None and not server.status().running
        server.down()  # idempotent
    finally:
        server.down()
        shutil.rmtree(directory, ignore_errors=True)
