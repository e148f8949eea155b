"""Span collection for the tracing tests: the SDK's InMemorySpanExporter behind a global TracerProvider (set once
per process, as an application sets its own; the runtime must then use it), and the tree of one trace."""

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from memory_runtime import tracing
from memory_runtime.config import Settings

_EXPORTER: InMemorySpanExporter | None = None


def app_exporter() -> InMemorySpanExporter:
    """The in-memory exporter behind this process's global TracerProvider (set on first use)."""
    global _EXPORTER
    if _EXPORTER is None:
        _EXPORTER = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    return _EXPORTER


@contextmanager
def collected_spans() -> Iterator[InMemorySpanExporter]:
    """The exporter, emptied (the body of each test module's `spans` fixture); tracing is off again after."""
    exporter = app_exporter()
    exporter.clear()
    try:
        yield exporter
    finally:
        tracing.disable()  # the rest of the session runs untraced


def traced(settings: Settings) -> Settings:
    """`settings` with tracing on (any mode: the application's provider wins over the runtime's exporters)."""
    return settings.model_copy(update={"tracing": "otlp"})


def store_calls(spans: list[ReadableSpan], system: str) -> list[ReadableSpan]:
    """The client spans of one store (`db.system.name`)."""
    return [s for s in spans if s.kind is SpanKind.CLIENT and s.attributes.get("db.system.name") == system]


class Tree:
    """The finished spans of the one trace whose root is named `root_name`, by id."""

    def __init__(self, spans: tuple[ReadableSpan, ...], root_name: str) -> None:
        [self.root] = [s for s in spans if s.name == root_name]
        trace_id = self.root.context.trace_id
        self.spans = [s for s in spans if s.context.trace_id == trace_id]
        self.by_id = {s.context.span_id: s for s in self.spans}

    def one(self, name: str) -> ReadableSpan:
        [found] = [s for s in self.spans if s.name == name]
        return found

    def parent(self, span: ReadableSpan) -> ReadableSpan | None:
        return self.by_id.get(span.parent.span_id) if span.parent else None

    def children(self, span: ReadableSpan) -> list[ReadableSpan]:
        return [s for s in self.spans if s.parent and s.parent.span_id == span.context.span_id]

    def below(self, span: ReadableSpan) -> list[ReadableSpan]:
        out, todo = [], self.children(span)
        while todo:
            out.append(child := todo.pop())
            todo.extend(self.children(child))
        return out

    def reaches_root(self, span: ReadableSpan) -> bool:
        while span is not self.root:
            up = self.parent(span)
            if up is None:
                return False
            span = up
        return True
