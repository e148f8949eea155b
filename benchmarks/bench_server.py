"""REST overhead: requests/s and p50/p95 of remember and store_turn through `agent-memory serve` vs in-process.

    .venv/bin/python benchmarks/bench_server.py [--users 32] [--history 200] [--requests 400] [--concurrency 1 8 32]

A private embedded stack (hashing embedder, 384 dimensions, MEMORY_POSTGRES_POOL_MAX=32). --users users of tenant
`bench` get --history turns each (LoCoMo-style chat of benchmarks/retrieval_eval) and 20 facts. Then, in the same
run and on the same data, at each concurrency c: c client threads make --requests calls in total,
* in-process: `AgentMemory(<runtime user>, stores=shared)` in this process (what an embedding agent does), and
* REST: `agent-memory serve` in its own process on 127.0.0.1 (uvicorn, one worker), driven by c threads of this
  process, each with a keep-alive httpx client (the load generator; its own cost is part of the REST figure).
remember is POST /v1/users/{u}/remember {query, top_k: 10}; store_turn is POST /v1/users/{u}/turns with a new turn.
Client i works on user i mod --users. Writes benchmarks/results/server.md.
"""

import argparse
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "retrieval_eval"))

import generate  # noqa: E402  (the evaluation set's generator, for realistic chat text)
import lexicon  # noqa: E402
from harness import embedded_stores, pct, write_results  # noqa: E402

from memory_ops.server import keys  # noqa: E402
from memory_ops.server.tenancy import runtime_conversation_id, runtime_user_id  # noqa: E402
from memory_runtime.api import AgentMemory  # noqa: E402
from memory_runtime.domain.models import Turn  # noqa: E402
from memory_runtime.stores.bundle import Stores  # noqa: E402

RESULTS = HERE / "results" / "server.md"
TENANT = "bench"
QUERIES = [
    "what did we say about the trip?", "which books does she like?", "where does he work now?",
    "when is the concert?", "what was the recipe?", "how is the new job going?", "what about the dog?",
    "did they move to a new city?", "what hobby did she start?", "any plans for the weekend?",
]  # fmt: skip


def seed(stores: Stores, users: int, history: int) -> None:
    """Give every bench user `history` generated turns and 20 facts."""
    rng = random.Random(7)
    names = [(n, "she") for n in lexicon.NAMES["she"]] + [(n, "he") for n in lexicon.NAMES["he"]]
    for u in range(users):
        memory = AgentMemory(runtime_user_id(TENANT, f"u{u}"), stores=stores)
        turns: list[Turn] = []
        sample = 0
        while len(turns) < history:
            sample += 1
            conv = generate.build_conversation(rng, sample, rng.sample(names, 2))
            for s in conv.sessions:
                cid = runtime_conversation_id(TENANT, f"u{u}-c{sample}-s{s['session']}")
                turns += [
                    Turn(conversation_id=cid, index=t["index"], role=t["role"], content=f"{t['speaker']}: {t['text']}")
                    for t in s["turns"]
                ]
        memory.store_turns(turns[:history])
        for i in range(20):
            memory.learn_fact(f"{rng.choice(names)[0]} mentioned topic {i} of user {u}", confidence=0.7)
        print(f"\r  seeded {u + 1}/{users} users", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def run_clients(concurrency: int, total: int, make_call: Callable[[int], Callable[[int], None]]) -> dict:
    """`concurrency` threads make `total` calls; returns latencies (ms), wall time and errors."""
    per_client = [total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(concurrency + 1)

    def client(i: int) -> None:
        call = make_call(i)
        mine: list[float] = []
        barrier.wait()
        for n in range(per_client[i]):
            t = time.perf_counter()
            try:
                call(n)
            except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
                with lock:
                    errors.append(repr(exc)[:200])
            mine.append((time.perf_counter() - t) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    return {"lat": latencies, "wall": wall, "errors": errors}


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    """`agent-memory serve` on 127.0.0.1:port, ready."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "memory_ops.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("agent-memory serve did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--history", type=int, default=200)
    parser.add_argument("--requests", type=int, default=400, help="calls per (mode, operation, concurrency)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--port", type=int, default=18080)
    args = parser.parse_args()
    began, load_before = time.perf_counter(), os.getloadavg()
    results: dict[tuple[str, str, int], dict] = {}
    with embedded_stores("bench-server-", postgres_pool_max=32) as stores:
        seed(stores, args.users, args.history)
        key = keys.create_key(stores.pg, TENANT).key
        s = stores.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORY_")}
        env.update(
            MEMORY_POSTGRES_URI=s.require("postgres_uri"), MEMORY_GRAPH_URI=s.require("graph_uri"),
            MEMORY_REDIS_URI=s.require("redis_uri"), MEMORY_POSTGRES_POOL_MAX="32",
        )  # fmt: skip
        server = start_server(env, args.port)
        url = f"http://127.0.0.1:{args.port}"
        memories = [AgentMemory(runtime_user_id(TENANT, f"u{u}"), stores=stores) for u in range(args.users)]
        counter = iter(range(10**9))
        try:
            for c in args.concurrency:
                run = next(counter)

                def inproc_remember(i: int) -> Callable[[int], None]:
                    memory = memories[i % args.users]
                    return lambda n: memory.remember(QUERIES[(i + n) % len(QUERIES)], 10)

                def inproc_store(i: int, run: int = run) -> Callable[[int], None]:
                    memory = memories[i % args.users]
                    conv = runtime_conversation_id(TENANT, f"inproc-{run}-{i}")
                    return lambda n: memory.store_turn(
                        Turn(conversation_id=conv, index=n, role="user", content=f"note {n} of client {i}")
                    )

                def rest(path: str, body: Callable[[int], dict], i: int) -> Callable[[int], None]:
                    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120)
                    user = f"u{i % args.users}"

                    def call(n: int) -> None:
                        r = http.post(f"/v1/users/{user}/{path}", json=body(n))
                        if r.status_code >= 300:
                            raise RuntimeError(f"{r.status_code} {r.text[:100]}")

                    return call

                def rest_remember(i: int) -> Callable[[int], None]:
                    return rest("remember", lambda n: {"query": QUERIES[(i + n) % len(QUERIES)], "top_k": 10}, i)

                def rest_store(i: int, run: int = run) -> Callable[[int], None]:
                    conv = f"rest-{run}-{i}"
                    return rest(
                        "turns",
                        lambda n: {"conversation_id": conv, "index": n, "role": "user", "content": f"note {n} of {i}"},
                        i,
                    )

                for op, inproc, over_rest in (("remember", inproc_remember, rest_remember),
                                              ("store_turn", inproc_store, rest_store)):  # fmt: skip
                    for mode, make in (("in-process", inproc), ("REST", over_rest)):
                        r = run_clients(c, args.requests, make)
                        results[(op, mode, c)] = r
                        print(
                            f"  {op:<10} {mode:<10} c={c:<3} {len(r['lat']) / r['wall']:7.1f} req/s  "
                            f"p50 {pct(r['lat'], 50):6.1f} ms  p95 {pct(r['lat'], 95):6.1f} ms  "
                            f"errors {len(r['errors'])}",
                            file=sys.stderr,
                            flush=True,
                        )
        finally:
            server.terminate()
            server.wait(timeout=30)

    rows = [
        "| operation | clients | in-process req/s | REST req/s | in-process p50 | REST p50 | in-process p95 | REST p95 "
        "| REST p95 / in-process p95 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for op in ("remember", "store_turn"):
        for c in args.concurrency:
            a, b = results[(op, "in-process", c)], results[(op, "REST", c)]
            rows.append(
                f"| {op} | {c} | {len(a['lat']) / a['wall']:.0f} | {len(b['lat']) / b['wall']:.0f} "
                f"| {pct(a['lat'], 50):.1f} ms | {pct(b['lat'], 50):.1f} ms "
                f"| {pct(a['lat'], 95):.1f} ms | {pct(b['lat'], 95):.1f} ms "
                f"| {pct(b['lat'], 95) / pct(a['lat'], 95):.2f}x |"
            )
    errors = sum(len(r["errors"]) for r in results.values())
    table = "\n".join(rows)
    print(table)
    target = results.get(("remember", "REST", 8)), results.get(("remember", "in-process", 8))
    verdict = ""
    if all(target):
        ratio = pct(target[0]["lat"], 95) / pct(target[1]["lat"], 95)
        verdict = f"Target (REST remember p95 at most 1.5x in-process at 8 clients): {ratio:.2f}x, " + (
            "met." if ratio <= 1.5 else "NOT met."
        )
    command = (
        f".venv/bin/python benchmarks/bench_server.py --users {args.users} --history {args.history} "
        f"--requests {args.requests} --concurrency {' '.join(map(str, args.concurrency))}"
    )
    description = (
        f"{args.users} users of one tenant with {args.history} turns and 20 facts each, on the embedded stack "
        "(PostgreSQL + FalkorDB/Redis), hashing embedder (384 dimensions), `MEMORY_POSTGRES_POOL_MAX=32`, on a "
        "2-core machine shared with other work. For each operation and number of clients, "
        f"{args.requests} calls in total: in-process through `AgentMemory(..., stores=shared)` from that many "
        "threads, and through REST against `agent-memory serve` (uvicorn, one worker process) on 127.0.0.1 from "
        "that many threads of the benchmark process, each with a keep-alive httpx client. The load generator runs "
        "on the same two cores as the server and the stores, so its own cost is inside the REST figures. "
        "remember is `POST /v1/users/{u}/remember` with top_k 10; store_turn is `POST /v1/users/{u}/turns` with a "
        f"new turn. Errors: {errors}."
    )
    title = "The server: REST against in-process"
    write_results(RESULTS, title, command, description, began, load_before, table + "\n\n" + verdict)
    print(verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
