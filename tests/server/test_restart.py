"""Killing the server (SIGKILL, mid-stream) and starting it again loses nothing a 2xx acknowledged."""

import os
import signal
import subprocess
import sys
import threading
import time

import httpx

from tests.server.conftest import free_port, store_env


def _start(env: dict[str, str], port: int, cwd: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "memory_ops.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, **env}, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "serve exited"
    raise AssertionError("agent-memory serve did not come up")


def test_every_acknowledged_write_survives_a_kill_and_restart(server_namespace_settings, tenant_keys, tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("MEMORY_")}
    env.update(store_env(server_namespace_settings))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {tenant_keys.acme}"}
    acknowledged: list[tuple[str, int, str]] = []
    facts: list[str] = []
    stop = threading.Event()

    def writer(worker: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=10) as c:
            for i in range(10_000):
                if stop.is_set():
                    return
                body = {"conversation_id": f"kill-{worker}", "index": i, "role": "user", "content": f"w{worker} #{i}"}
                try:
                    r = c.post(f"/v1/users/kill-{worker}/turns", json=body)
                    f = c.post(f"/v1/users/kill-{worker}/facts", json={"claim": f"fact {worker}.{i}"})
                except httpx.TransportError:
                    return  # the server died mid-request: that write was never acknowledged
                if r.status_code == 201:
                    acknowledged.append((f"kill-{worker}", i, body["content"]))
                if f.status_code == 201:
                    facts.append(f.json()["id"])

    proc = _start(env, port, str(tmp_path))
    try:
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert len(acknowledged) > 10, "the writers should have been acknowledged before the kill"
        proc = _start(env, port, str(tmp_path))
        with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
            stored = set()
            stored_facts = set()
            for worker in range(4):
                turns = c.get(f"/v1/users/kill-{worker}/turns", params={"limit": 10_000}).json()["turns"]
                stored |= {(t["conversation_id"], t["index"], t["content"]) for t in turns}
                listed = c.get(f"/v1/users/kill-{worker}/facts", params={"limit": 10_000}).json()["facts"]
                stored_facts |= {f["id"] for f in listed}
        assert set(acknowledged) <= stored
        assert set(facts) <= stored_facts
    finally:
        proc.kill()
        proc.wait(timeout=30)
