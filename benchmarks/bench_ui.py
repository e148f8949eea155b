"""Memory browser: p50/p95 server time of its pages for one user with 10k turns and 2k facts.

    .venv/bin/python benchmarks/bench_ui.py [--turns 10000] [--facts 2000] [--conversations 50] [--requests 50]

A private embedded stack (hashing embedder, 384 dimensions). Tenant `bench`'s user `heavy` gets --turns turns in
--conversations conversations, --facts facts (a quarter of them invalidated, so the timeline has closed intervals)
and 200 entities; 20 lighter users fill the users page. The server (`create_app`, the same app as `agent-memory
serve`) runs in this process on uvicorn on 127.0.0.1; one signed-in httpx client requests each page --requests
times, one request at a time, and reads the server's own time from the `Server-Timing` header the browser sets
(from the request reaching /ui to the rendered page). Writes benchmarks/results/ui.md.
"""

import argparse
import re
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness import embedded_stores, pct, progress  # noqa: E402

from memory_ops.server import keys  # noqa: E402
from memory_ops.server.app import create_app  # noqa: E402
from memory_ops.server.settings import ServerSettings  # noqa: E402
from memory_ops.server.tenancy import runtime_conversation_id, runtime_user_id  # noqa: E402
from memory_runtime.api import AgentMemory  # noqa: E402
from memory_runtime.domain.models import Entity, Turn  # noqa: E402
from memory_runtime.stores.bundle import Stores  # noqa: E402

RESULTS = HERE / "results" / "ui.md"
TENANT = "bench"
USER = "heavy"
TARGET_MS = 200.0
START = datetime(2024, 1, 1, tzinfo=UTC)


def seed(stores: Stores, turns: int, facts: int, conversations: int) -> None:
    """The heavy user, and 20 light ones."""
    memory = AgentMemory(runtime_user_id(TENANT, USER), stores=stores)
    per_conv = turns // conversations
    started = time.perf_counter()
    for c in range(conversations):
        conv = runtime_conversation_id(TENANT, f"conv-{c:03d}")
        batch = [
            Turn(conversation_id=conv, index=i, role="user" if i % 2 == 0 else "assistant",
                 content=f"conversation {c} turn {i}: we talked about project {i % 37} and the trip to city {c % 11}",
                 timestamp=START + timedelta(days=c * 7, minutes=i))
            for i in range(per_conv)
        ]  # fmt: skip
        memory.store_turns(batch)
        progress("turns", (c + 1) * per_conv, turns, started)
    print(file=sys.stderr)
    entity_ids = [memory.upsert_entity(Entity(name=f"Thing {i}", type="Concept")).id for i in range(200)]
    started = time.perf_counter()
    for i in range(facts):
        valid = START + timedelta(hours=6 * i)
        memory.learn_fact(
            f"fact {i}: project {i % 37} is handled by team {i % 13}",
            confidence=0.5 + (i % 5) / 10,
            entity_ids=[entity_ids[i % len(entity_ids)]],
            valid_at=valid,
            invalid_at=valid + timedelta(days=30) if i % 4 == 0 else None,
        )
        if i % 50 == 49:
            progress("facts", i + 1, facts, started)
    print(file=sys.stderr)
    for u in range(20):
        light = AgentMemory(runtime_user_id(TENANT, f"light-{u}"), stores=stores)
        light.store_turns([Turn(conversation_id=runtime_conversation_id(TENANT, f"light-{u}"), index=0, role="user",
                                content=f"hello from light user {u}")])  # fmt: skip


def serve(stores: Stores) -> tuple[uvicorn.Server, str]:
    """The server app on a free loopback port, in a thread."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = ServerSettings(_env_file=None, server_port=port)  # type: ignore[call-arg]
    app = create_app(stores, settings, mcp=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port}"


def sign_in(url: str, key: str) -> httpx.Client:
    """A client with a browser session."""
    client = httpx.Client(base_url=url, timeout=60)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/login").text).group(1)  # type: ignore[union-attr]
    assert client.post("/ui/login", data={"key": key, "csrf": csrf}).status_code == 303
    return client


def measure(client: httpx.Client, path: str, requests: int) -> tuple[list[float], list[float], int]:
    """Server times (Server-Timing) and client times in ms of `requests` GETs, after two warm-up requests."""
    server_ms, client_ms = [], []
    size = 0
    for i in range(requests + 2):
        t = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - t) * 1000
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        if i >= 2:
            server_ms.append(float(response.headers["server-timing"].split("dur=")[1]))
            client_ms.append(elapsed)
            size = len(response.content)
    return server_ms, client_ms, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--facts", type=int, default=2_000)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    t0 = time.perf_counter()
    with embedded_stores("bench-ui-", embedding_dimensions=384) as stores:
        seed(stores, args.turns, args.facts, args.conversations)
        seeded_s = time.perf_counter() - t0
        key = keys.create_key(stores.pg, TENANT).key
        server, url = serve(stores)
        last_conv = args.conversations - 1
        per_conv = args.turns // args.conversations
        deep = (per_conv - 1) // 50 * 50
        pages = [
            ("users (page 1)", "/ui/users"),
            ("user page (conversations, page 1)", f"/ui/users/{USER}"),
            ("user page (last conversations page)", f"/ui/users/{USER}?offset={(last_conv // 20) * 20}"),
            ("conversation (last page of turns)",
             f"/ui/users/{USER}/conversation?id=conv-{last_conv:03d}&offset={deep}"),
            ("facts (all, page 1)", f"/ui/users/{USER}/facts"),
            ("facts (all, last page)", f"/ui/users/{USER}/facts?offset={(args.facts - 1) // 50 * 50}"),
            ("timeline (all facts)", f"/ui/users/{USER}/timeline"),
            ("timeline (as_of, page 2)", f"/ui/users/{USER}/timeline?as_of=2024-09-01T00:00&offset=50"),
            ("entities (page 1)", f"/ui/users/{USER}/entities"),
        ]  # fmt: skip
        rows = []
        client = sign_in(url, key)
        try:
            for name, path in pages:
                server_ms, client_ms, size = measure(client, path, args.requests)
                rows.append((name, path, pct(server_ms, 50), pct(server_ms, 95), pct(client_ms, 95), size))
                print(f"  {name:<40} p50 {rows[-1][2]:7.1f} ms  p95 {rows[-1][3]:7.1f} ms", file=sys.stderr)
        finally:
            client.close()
            server.should_exit = True
    total_s = time.perf_counter() - t0
    write(args, rows, seeded_s, total_s)


def write(args: argparse.Namespace, rows: list, seeded_s: float, total_s: float) -> None:
    """The results file with the command that made it."""
    checked = {"user page (conversations, page 1)", "timeline (all facts)", "timeline (as_of, page 2)"}
    worst = max(r[3] for r in rows if r[0] in checked)
    lines = [
        "# The memory browser: page render time",
        "",
        "Regenerate: `.venv/bin/python benchmarks/bench_ui.py"
        f" --turns {args.turns} --facts {args.facts} --conversations {args.conversations} --requests {args.requests}`",
        "",
        f"One user (tenant `{TENANT}`, user `{USER}`) with {args.turns} turns in {args.conversations} conversations, "
        f"{args.facts} facts (a quarter invalidated) and 200 entities, plus 20 light users, on the embedded stack "
        "(PostgreSQL + FalkorDB/Redis), hashing embedder (384 dimensions), on a 2-core machine shared with other "
        "work. The server app (`create_app`, as under `agent-memory serve`) runs on uvicorn in the benchmark process; "
        f"one signed-in client requests each page {args.requests} times, one at a time, after two warm-up requests. "
        "Server time is the `Server-Timing` header of the browser (request reaching /ui to rendered page: session "
        "check, the store reads, the template); client time adds HTTP on loopback and the httpx client.",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d}; seeding took {seeded_s:.0f} s, the whole run {total_s:.0f} s.",
        "",
        "| page | path | server p50 | server p95 | client p95 | HTML size |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {n} | `{p}` | {a:.1f} ms | {b:.1f} ms | {c:.1f} ms | {s / 1024:.0f} KiB |" for n, p, a, b, c, s in rows
    ]
    verdict = "met" if worst < TARGET_MS else "NOT met"
    lines += ["", f"Target (p95 server time of the user page and the timeline under {TARGET_MS:.0f} ms, paging "
              f"included): worst {worst:.1f} ms, {verdict}.", ""]  # fmt: skip
    RESULTS.write_text("\n".join(lines))
    print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
