"""OpenTelemetry tracing: the span tree of remember() and store_turn on real stores (both graphs, sync and
async), a Dagster asset run's span, and the exporters. The spans are collected by the SDK's own
InMemorySpanExporter behind a global TracerProvider, set here as an application would set its own: the runtime
must use it. The console and OTLP exporters, tracing off and a missing SDK run in subprocesses, since tracing
is per process."""

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tracing_helpers import Tree, collected_spans, store_calls, traced

from memory_runtime import AgentMemory, AsyncAgentMemory, Entity, Turn
from memory_runtime.config import Settings
from memory_runtime.stores.async_bundle import AsyncStores
from tests.server.conftest import store_env

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
USER = "tracing-user"
QUERY = "Where does Ada work these days?"
CONTENTS = [
    "Ada told me she started a new job at Acme in Lisbon.",
    "Nice, what does she do there?",
    "She builds the Cython parser for their data team.",
    "And she still runs the Lisbon marathon every spring.",
]
STRATEGIES = ("remember.episodic", "remember.semantic", "remember.goals", "remember.profile", "remember.procedural")


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with collected_spans() as exporter:
        yield exporter


def _turns() -> list[Turn]:
    return [
        Turn(conversation_id="c1", index=i, role="user" if i % 2 == 0 else "assistant", content=text,
             timestamp=T0 + timedelta(minutes=i))
        for i, text in enumerate(CONTENTS)
    ]  # fmt: skip


def _seed(memory: AgentMemory) -> None:
    memory.store_turns(_turns())
    ada = memory.upsert_entity(Entity(name="Ada", type="Person"))
    acme = memory.upsert_entity(Entity(name="Acme", type="Organization"))
    memory.relate(ada.id, acme.id, "WORKS_FOR")
    memory.learn_fact("Ada works at Acme", entity_ids=[ada.id, acme.id], subject="Ada", predicate="works_for",
                      object="Acme")  # fmt: skip


def _assert_remember_tree(tree: Tree, backend: str) -> None:
    """Root, one child per strategy, the store calls beneath them, every parent id right."""
    assert tree.root.parent is None or tree.root.parent.span_id not in tree.by_id
    assert tree.root.attributes["user.hash"] == hashlib.sha256(USER.encode()).hexdigest()
    assert tree.root.attributes["memory.turns"] > 0 and tree.root.attributes["memory.facts"] > 0
    for name in STRATEGIES:
        assert tree.parent(tree.one(name)) is tree.root, name
    episodic, semantic = tree.one("remember.episodic"), tree.one("remember.semantic")
    assert tree.parent(tree.one("remember.episodic.vector")) is episodic
    assert tree.parent(tree.one("remember.episodic.context")) is episodic
    assert tree.parent(tree.one("remember.rerank")) is episodic
    semantic_calls = store_calls(tree.children(semantic), backend)
    assert semantic_calls, "the fact and entity statements run beneath their strategy"
    assert all(s.attributes["db.operation.name"] == "read" for s in semantic_calls)
    assert all(s.attributes["db.response.returned_rows"] >= 0 for s in semantic_calls)
    assert any(s.attributes["code.function.name"].startswith("memory_runtime.retrieval.") for s in semantic_calls)
    below_episodic = tree.below(episodic)
    assert store_calls(below_episodic, backend), "BM25 postings and the vector search hit the graph"
    assert store_calls(below_episodic, "postgresql"), "the conversational context comes from Postgres"
    assert store_calls(tree.spans, "redis"), "the user-context version is read from Redis"
    assert all(tree.reaches_root(s) for s in tree.spans), "no store call hangs outside the tree"


def _assert_no_content(found: list[ReadableSpan]) -> None:
    """Attributes never carry a query, a turn, a key with the user in it, or the user id itself."""
    words = [QUERY, USER, "Acme in Lisbon", "Cython parser", "Ada works"]
    for s in found:
        for value in s.attributes.values():
            assert not any(w in str(value) for w in words), (s.name, value)


def test_remember_is_one_trace_with_a_child_span_per_strategy_and_the_store_calls_beneath(backend_stores, spans):
    settings = traced(backend_stores.settings)
    with AgentMemory(USER, "c1", settings=settings) as memory:
        _seed(memory)
        spans.clear()
        bundle = memory.remember(QUERY)
    # read after close(), which waits for the write-behind access records
    assert bundle.facts and bundle.relevant_turns
    tree = Tree(spans.get_finished_spans(), "remember")
    _assert_remember_tree(tree, settings.graph_backend)
    _assert_no_content(tree.spans)


def test_store_turn_spans_cover_postgres_the_graph_projection_and_working_memory(backend_stores, spans):
    settings = traced(backend_stores.settings)
    with AgentMemory(USER, "c1", settings=settings) as memory:
        spans.clear()
        memory.store_turn(_turns()[0])
    tree = Tree(spans.get_finished_spans(), "store_turn")
    assert tree.root.attributes["memory.operation"] == "store_turn"
    below = tree.below(tree.root)
    inserts = [s for s in store_calls(below, "postgresql") if s.attributes["db.operation.name"] == "INSERT"]
    assert inserts and all(s.attributes["db.namespace"] for s in inserts)
    assert any("conversation_logs" in str(s.attributes["db.query.summary"]) for s in inserts)
    projections = [
        s for s in store_calls(below, settings.graph_backend) if s.attributes["db.operation.name"] == "write"
    ]
    assert projections and all(s.attributes["code.function.name"].startswith("memory_runtime.") for s in projections)
    scripts = [s for s in store_calls(below, "redis") if s.attributes["db.operation.name"] in ("EVALSHA", "EVAL")]
    assert scripts, "the working-memory push is one Lua script call"
    assert all(tree.reaches_root(s) for s in tree.spans)
    _assert_no_content(tree.spans)


def test_a_failed_store_call_marks_its_span_and_the_operation_failed(stores, spans):
    with AgentMemory(USER, "c1", settings=traced(stores.settings)) as memory:
        memory.store_turn(_turns()[0])
        spans.clear()
        with pytest.raises(Exception, match="different content"):
            memory.store_turn(_turns()[0].model_copy(update={"content": "another text at the same index"}))
    tree = Tree(spans.get_finished_spans(), "store_turn")
    assert not tree.root.status.is_ok
    assert any(e.name == "exception" for e in tree.root.events)


def test_async_remember_and_store_turn_have_the_same_trees_on_asyncio_tasks(backend_stores, spans):
    settings = traced(backend_stores.settings)
    with AgentMemory(USER, "c1", settings=settings) as memory:
        _seed(memory)

    async def main() -> None:
        stores = await AsyncStores.aopen(settings)
        try:
            async with AsyncAgentMemory(USER, "c1", stores=stores) as memory:
                spans.clear()
                await memory.remember(QUERY)
                await memory.store_turn(_turns()[0].model_copy(update={"index": 10}))
        finally:
            await stores.aclose()  # waits for the write-behind jobs

    asyncio.run(main())
    finished = spans.get_finished_spans()
    _assert_remember_tree(Tree(finished, "remember"), settings.graph_backend)
    write = Tree(finished, "store_turn")
    below = write.below(write.root)
    assert store_calls(below, "postgresql") and store_calls(below, settings.graph_backend)
    assert [s for s in store_calls(below, "redis") if s.attributes["db.operation.name"] == "EVALSHA"]
    assert all(write.reaches_root(s) for s in write.spans)


def test_packing_a_bundle_is_a_span(stores, spans):
    with AgentMemory(USER, "c1", settings=traced(stores.settings)) as memory:
        memory.store_turns(_turns())
        bundle = memory.remember(QUERY)
        spans.clear()
        text = bundle.to_context_string(max_tokens=200)
    [packing] = [s for s in spans.get_finished_spans() if s.name == "pack_context"]
    assert packing.parent is None and packing.attributes["memory.context_chars"] == len(text)


# ---- exporters and tracing off, in a process of their own ------------------------------------------------

_SCRIPT = """
import json, sys
from datetime import UTC, datetime
from memory_runtime import AgentMemory, Turn
with AgentMemory("u1", "c1") as memory:
    memory.store_turn(Turn(conversation_id="c1", index=0, role="user", content="I moved to Lisbon.",
                           timestamp=datetime(2026, 3, 2, tzinfo=UTC)))
    memory.remember("where do I live?")
from memory_runtime import tracing
print(json.dumps({"enabled": tracing.enabled()}))
"""

# Tracing off, under an application that set up OpenTelemetry itself: which modules import an opentelemetry
# module (redis-py does, for its own metrics, when the packages are installed), and the spans the app received.
_OFF_SCRIPT = (
    """
import json, sys

importers = set()
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "opentelemetry":
            frame = sys._getframe(1)
            while frame.f_globals.get("__name__", "").startswith(("importlib", "_frozen")):
                frame = frame.f_back
            importers.add(frame.f_globals.get("__name__", ""))
        return None
sys.meta_path.insert(0, Watch())

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
importers.clear()  # the application's own imports above
"""
    + _SCRIPT
    + """
print(json.dumps({"spans": len(exporter.get_finished_spans()), "importers": sorted(importers)}))
"""
)


def _run(settings: Settings, script: str = _SCRIPT, **env: str) -> subprocess.CompletedProcess[str]:
    values = store_env(settings)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MEMORY_", "OTEL_"))}
    full = {**clean, **values, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-c", script], env=full, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def _report(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_tracing_off_makes_no_spans_and_the_runtime_imports_no_opentelemetry(stores):
    done = _run(stores.settings, _OFF_SCRIPT)
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.strip().splitlines()[-2:])
    assert first["enabled"] is False
    assert second["spans"] == 0, "an application's provider gets nothing while MEMORY_TRACING=off"
    assert not [m for m in second["importers"] if m.split(".")[0] == "memory_runtime"], second["importers"]


def test_the_console_exporter_prints_each_span_to_stderr(stores):
    done = _run(stores.settings, MEMORY_TRACING="console", OTEL_SERVICE_NAME="memory-console-test")
    assert _report(done)["enabled"] is True
    decoder, text, printed = json.JSONDecoder(), done.stderr, []
    at = text.find("{")
    while at != -1:
        try:
            value, at = decoder.raw_decode(text, at)
            printed.append(value)
        except json.JSONDecodeError:  # a brace in a log line
            at += 1
        at = text.find("{", at)
    by_name = {s["name"]: s for s in printed if isinstance(s, dict) and "context" in s}
    assert {"store_turn", "remember", "remember.episodic"} <= by_name.keys()
    assert by_name["remember.episodic"]["parent_id"] == by_name["remember"]["context"]["span_id"]
    assert by_name["remember"]["resource"]["attributes"]["service.name"] == "memory-console-test"
    assert "Lisbon" not in done.stdout  # stdout stays the application's


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP trace receiver on loopback (what Jaeger, Tempo or a collector listen with on :4318)."""

    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 — http.server's handler name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            _Collector.received.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_otlp_exports_to_the_endpoint_and_service_of_the_standard_variables(stores):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Collector.received.clear()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        done = _run(stores.settings, MEMORY_TRACING="otlp", OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                    OTEL_SERVICE_NAME="memory-otlp-test")  # fmt: skip
        assert _report(done)["enabled"] is True
    finally:
        server.shutdown()
        server.server_close()
    names, services = set(), set()
    for body in _Collector.received:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            services |= {a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"}
            names |= {s.name for scope in resource_spans.scope_spans for s in scope.spans}
    assert {"store_turn", "remember", "remember.semantic"} <= names
    assert services == {"memory-otlp-test"}


_BLOCK_OTEL = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from memory_runtime import AgentMemory
from memory_runtime.domain.errors import ConfigurationError
try:
    AgentMemory("u1")
except ConfigurationError as exc:
    print(exc)
"""


def test_tracing_on_without_opentelemetry_is_a_configuration_error_naming_the_extra(stores):
    done = _run(stores.settings, _BLOCK_OTEL, MEMORY_TRACING="otlp")
    assert done.returncode == 0, done.stderr
    assert "MEMORY_TRACING=otlp needs OpenTelemetry" in done.stdout
    assert "pip install 'agent-memory[tracing]'" in done.stdout


def test_a_statement_is_summarised_by_what_it_writes() -> None:
    from memory_runtime.stores.postgres.traced import summary

    assert summary("SELECT id FROM conversation_logs WHERE user_id = %s") == ("SELECT", "conversation_logs")
    assert summary("WITH x AS (SELECT 1) DELETE FROM facts WHERE id = %s") == ("DELETE", "facts")
    claim_and_insert = (
        "WITH claim AS (INSERT INTO conversations (id) VALUES (%s) RETURNING id),"
        " turns AS (INSERT INTO conversation_logs (id) SELECT %s WHERE EXISTS (SELECT FROM claim) RETURNING id)"
        " SELECT (SELECT count(*) FROM claim)"
    )
    assert summary(claim_and_insert) == ("INSERT", "conversations, conversation_logs")
