"""A consolidation run killed mid-partition and re-run leaves exactly what one clean run leaves.

The kill is a SIGKILL of a real `dagster asset materialize` process while `semantic_memory` is writing
(facts already in the graph, not all of them); the re-run goes through the same CLI. The result is
compared, count by count, with a clean run on an identical copy of the day in a second namespace.
"""

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import redis
from psycopg import sql
from reliability_helpers import open_stores

from memory_runtime.domain.models import Turn
from memory_runtime.memory.episodic import EpisodicMemory
from memory_runtime.stores.bundle import Stores

ROOT = Path(__file__).resolve().parents[2]
DAY = datetime(2025, 6, 3, tzinfo=UTC)
PEOPLE = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Linus Torvalds", "Barbara Liskov"]
ORGS = ["Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries"]
CITIES = ["Berlin", "Lisbon", "Paris", "Madrid", "Vienna", "Prague", "Oslo", "Dublin"]


def day_of_turns(n: int) -> list[Turn]:
    rng = random.Random(5)
    templates = [
        lambda: f"I live in {rng.choice(CITIES)} these days.",
        lambda: f"I work at {rng.choice(ORGS)} on the platform team.",
        lambda: f"{rng.choice(PEOPLE)} works at {rng.choice(ORGS)}.",
        lambda: f"My favorite city is {rng.choice(CITIES)}.",
        lambda: f"I really like {rng.choice(['jazz', 'hiking', 'chess', 'sushi', 'Rust', 'Python'])}.",
        lambda: f"{rng.choice(PEOPLE)} lives in {rng.choice(CITIES)}.",
    ]
    return [
        Turn(conversation_id=f"conv-{i // 40}", index=i % 40, role="user" if i % 2 == 0 else "assistant",
             content=rng.choice(templates)(), timestamp=DAY + timedelta(seconds=20 * i))
        for i in range(n)
    ]  # fmt: skip


def counts(stores: Stores) -> dict[str, int]:
    g = stores.graph.read
    return {
        "facts": g("MATCH (f:Fact) RETURN count(f) AS n")[0]["n"],
        "valid_facts": g("MATCH (f:Fact) WHERE f.invalid_at IS NULL RETURN count(f) AS n")[0]["n"],
        "entities": g("MATCH (e:Entity) RETURN count(e) AS n")[0]["n"],
        "derived_from": g("MATCH (:Fact)-[r:DERIVED_FROM]->(:Turn) RETURN count(r) AS n")[0]["n"],
        "mentions": g("MATCH (:Turn)-[r:MENTIONS]->(:Entity) RETURN count(r) AS n")[0]["n"],
        "distinct_claims": g("MATCH (f:Fact) RETURN count(DISTINCT f.norm_claim + '|' + toString(f.valid_at)) AS n")[0][
            "n"
        ],
    }


def materialize_cmd(settings, dagster_home: Path) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORY_")}
    env.update(
        MEMORY_POSTGRES_URI=settings.postgres_uri, MEMORY_POSTGRES_SCHEMA=settings.postgres_schema,
        MEMORY_GRAPH_URI=settings.graph_uri, MEMORY_GRAPH_NAME=settings.graph_name, MEMORY_REDIS_URI=settings.redis_uri,
        MEMORY_REDIS_PREFIX=settings.redis_prefix, MEMORY_EMBEDDING_DIMENSIONS=str(settings.embedding_dimensions),
        DAGSTER_HOME=str(dagster_home),
    )  # fmt: skip
    cmd = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "memory_assets.definitions", "-d", str(ROOT),
           "--select", "semantic_memory", "--partition", DAY.strftime("%Y-%m-%d")]  # fmt: skip
    return cmd, env


def drop(settings) -> None:
    with psycopg.connect(settings.postgres_uri, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(settings.postgres_schema)))
    client = redis.Redis.from_url(settings.redis_uri)
    try:
        try:
            client.execute_command("GRAPH.DELETE", settings.graph_name)
        except redis.ResponseError:
            pass
        keys = list(client.scan_iter(match=f"{settings.redis_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def test_a_consolidation_run_killed_mid_partition_and_rerun_equals_one_clean_run(settings, tmp_path):
    turns = day_of_turns(2400)
    home = tmp_path / "dagster_home"
    home.mkdir()  # no dagster.yaml: a local SQLite instance, enough for runs launched by the CLI
    ns = "t_" + uuid.uuid4().hex[:12]
    clean_settings = settings.model_copy(update={"postgres_schema": ns, "graph_name": ns, "redis_prefix": ns})
    try:
        with open_stores(settings) as killed, open_stores(clean_settings) as clean:
            EpisodicMemory(killed, "u1", None).store_turns(turns)
            EpisodicMemory(clean, "u1", None).store_turns(turns)

            cmd, env = materialize_cmd(settings, home)
            proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
            deadline = time.monotonic() + 120
            while counts(killed)["facts"] < 20 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert proc.poll() is None, "the run finished before it could be killed mid-partition"
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            partial = counts(killed)

            rerun = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True,
                                   text=True, timeout=600, stdin=subprocess.DEVNULL)  # fmt: skip
            assert rerun.returncode == 0, rerun.stderr[-2000:]
            cmd_clean, env_clean = materialize_cmd(clean_settings, home)
            once = subprocess.run(cmd_clean, env=env_clean, cwd=ROOT, capture_output=True, text=True, timeout=600,
                                  stdin=subprocess.DEVNULL)  # fmt: skip
            assert once.returncode == 0, once.stderr[-2000:]

            after, expected = counts(killed), counts(clean)
            assert 0 < partial["facts"] < expected["facts"]  # it really was half-derived when killed
            assert after == expected  # ... and the re-run left neither duplicates nor gaps
            assert after["facts"] == after["distinct_claims"]
    finally:
        drop(clean_settings)
