"""A latency-injecting TCP proxy for the benchmarks: a stand-in for the network between the runtime and its stores.

    python benchmarks/latency_proxy.py --delay-ms 2 unix:/path/to/socket 127.0.0.1:7687 ...

Listens on one 127.0.0.1 port per upstream (printed as one JSON list on stdout once listening) and hands every
chunk on, in each direction, `delay_ms / 2` after it arrived: the order is kept and the bandwidth not limited,
so each request-response round trip costs `delay_ms` more, as a network link with that round-trip time would.
It runs as its own process (`started`), so its CPU time is not counted in the measured client's.
"""

import argparse
import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float) -> None:
    """Copy `reader` to `writer`, each chunk `delay_s` late."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(deliver())
    try:
        while data := await reader.read(1 << 16):
            queue.put_nowait((loop.time() + delay_s, data))
    except OSError:
        pass
    finally:
        queue.put_nowait((0.0, b""))
        try:
            await sender
        except OSError:
            pass
        writer.close()


async def _serve(upstreams: list[str], delay_s: float) -> None:
    async def connect(upstream: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if upstream.startswith("unix:"):
            return await asyncio.open_unix_connection(upstream[5:])
        host, _, port = upstream.rpartition(":")
        return await asyncio.open_connection(host, int(port))

    def handler(upstream: str):  # noqa: ANN202 — asyncio's client-connected callback
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                up_reader, up_writer = await connect(upstream)
            except OSError:
                writer.close()
                return
            await asyncio.gather(_pump(reader, up_writer, delay_s), _pump(up_reader, writer, delay_s))

        return handle

    servers = [await asyncio.start_server(handler(u), "127.0.0.1", 0) for u in upstreams]
    print(json.dumps([s.sockets[0].getsockname()[1] for s in servers]), flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


@contextmanager
def started(upstreams: list[str], delay_ms: float) -> Iterator[list[int]]:
    """A proxy process in front of `upstreams` (`unix:/path` or `host:port`); yields its ports, in order."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--delay-ms", str(delay_ms), *upstreams],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ports: list[int] = json.loads(proc.stdout.readline())
        yield ports
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, required=True, help="added round-trip time")
    parser.add_argument("upstreams", nargs="+", help="unix:/path or host:port")
    args = parser.parse_args()
    try:
        asyncio.run(_serve(args.upstreams, args.delay_ms / 2000))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
