"""OpenTelemetry tracing of the runtime: the public operations, remember()'s strategies and every store call.

Off by default (`MEMORY_TRACING=off`) and free when off: this module imports no OpenTelemetry module until
`configure()` switches tracing on, `span()` then hands out one shared no-op context manager, a `traced`
function costs one extra call and a check, and the store clients keep their plain driver classes (their traced
variants, `stores/*/traced.py`, are chosen only while tracing is on).

On: `configure("console")` prints every finished span to stderr (stdout belongs to the application, and to the
MCP stdio protocol), `configure("otlp")` exports them over OTLP/HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT` (the SDK
reads the standard `OTEL_*` variables itself; `OTEL_SERVICE_NAME` names the service, default `agent-memory`).
An application that has already set a global TracerProvider keeps it: the runtime's spans go to that provider,
and the runtime installs no exporter of its own. Tracing is per process, as OpenTelemetry's context is: the first
`Stores` opened with tracing on turns it on for every caller in the process.

Attributes never carry memory content, query text, keys, parameters or secrets: operation and statement
summaries, the calling function, row counts, and the user as `user.hash` (sha256 of the user id: a pseudonym
that correlates one user's traces, not an anonymisation).
"""

import functools
import hashlib
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import copy_context
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from memory_runtime.domain.errors import ConfigurationError

if TYPE_CHECKING:  # never imported at run time unless tracing is on
    from opentelemetry.trace import Span, Tracer

_P = ParamSpec("_P")
_T = TypeVar("_T")

MODES = ("off", "console", "otlp")
INSTALL_HINT = "pip install 'agent-memory[tracing]'"
SERVICE_NAME = "agent-memory"  # unless OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) names one
SCOPE = "memory_runtime"  # the instrumentation scope of every span

AttributeValue = str | bool | int | float

_lock = threading.Lock()
_tracer: "Tracer | None" = None
_client_kind: Any = None  # opentelemetry.trace.SpanKind.CLIENT, once tracing is on
_NOOP: AbstractContextManager[None] = nullcontext()


def configure(mode: str) -> None:
    """Switch tracing on for this process (`console` or `otlp`); `off` changes nothing. Idempotent.

    A ConfigurationError names the `tracing` extra when OpenTelemetry is not installed.
    """
    global _tracer, _client_kind
    if mode not in MODES:
        raise ConfigurationError(f"MEMORY_TRACING must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "off" or _tracer is not None:
        return
    with _lock:
        if _tracer is None:
            trace = _require("opentelemetry.trace", mode)
            provider = trace.get_tracer_provider()
            if isinstance(provider, trace.ProxyTracerProvider):  # the application configured none: ours
                provider = _own_provider(mode)
            _client_kind = trace.SpanKind.CLIENT
            _tracer = provider.get_tracer(SCOPE)


def _require(module: str, mode: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(
            f"MEMORY_TRACING={mode} needs OpenTelemetry ({exc.name} is missing): {INSTALL_HINT}"
        ) from None


def _own_provider(mode: str) -> Any:
    """A TracerProvider of the runtime's own (not made global) with the exporter `mode` asks for."""
    resources = _require("opentelemetry.sdk.resources", mode)
    sdk = _require("opentelemetry.sdk.trace", mode)
    export = _require("opentelemetry.sdk.trace.export", mode)
    resource = resources.Resource.create()
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(resources.Resource({"service.name": SERVICE_NAME}))
    provider = sdk.TracerProvider(resource=resource)  # flushed and shut down at exit by the SDK
    if mode == "console":
        provider.add_span_processor(export.SimpleSpanProcessor(export.ConsoleSpanExporter(out=sys.stderr)))
    else:
        otlp = _require("opentelemetry.exporter.otlp.proto.http.trace_exporter", mode)
        provider.add_span_processor(export.BatchSpanProcessor(otlp.OTLPSpanExporter()))
    return provider


def enabled() -> bool:
    """Whether tracing is on in this process."""
    return _tracer is not None


def disable() -> None:
    """Stop making spans in this process (benchmarks and tests; store clients built meanwhile stay traced
    variants, which then pass every call straight through)."""
    global _tracer
    _tracer = None


# ---- spans ---------------------------------------------------------------------------------------------


def span(
    name: str, attributes: Mapping[str, AttributeValue] | None = None, *, client: bool = False
) -> "AbstractContextManager[Span | None]":
    """A span around the block, current inside it (yields None when tracing is off). `client` marks a call
    to a store (SpanKind.CLIENT). An exception leaving the block is recorded and sets the status to error."""
    tracer = _tracer
    if tracer is None:
        return _NOOP
    kind = {"kind": _client_kind} if client else {}
    return tracer.start_as_current_span(name, attributes=attributes, **kind)


def traced(
    name: str, *, result: Callable[[Any], Mapping[str, AttributeValue]] | None = None
) -> Callable[[Callable[_P, _T]], Callable[_P, _T]]:
    """Decorate a function to run in a span `name`; `result(value)` adds attributes from what it returned."""

    def decorate(fn: Callable[_P, _T]) -> Callable[_P, _T]:
        @functools.wraps(fn)
        def in_span(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            tracer = _tracer
            if tracer is None:
                return fn(*args, **kwargs)
            with tracer.start_as_current_span(name) as current:
                value = fn(*args, **kwargs)
                if result is not None:
                    current.set_attributes(result(value))
                return value

        return in_span

    return decorate


def user_hash(user_id: str) -> str:
    """The pseudonym of a user in span attributes (`user.hash`)."""
    return hashlib.sha256(user_id.encode()).hexdigest()


def operation(name: str, user_id: str) -> "AbstractContextManager[Span | None]":
    """The span of one public operation of a user (the root of a remember() or store_turn trace)."""
    if _tracer is None:
        return _NOOP
    return span(name, {"memory.operation": name, "user.hash": user_hash(user_id)})


def annotate(**attributes: AttributeValue) -> None:
    """Add attributes (counts, sizes) to the current span; nothing when tracing is off."""
    if _tracer is None:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attributes(attributes)


# ---- store calls whose I/O is awaited elsewhere (the asyncio drivers) ------------------------------------


def start_client_span(name: str, attributes: Mapping[str, AttributeValue]) -> "Span | None":
    """A store-call span started now, as a child of the caller's current span, ended by `end_after`.

    For the asyncio drivers: the bridge awaits their coroutines in the event loop's task, outside the calling
    code's context, so the span is opened where the call is made instead of where it is awaited.
    """
    tracer = _tracer
    if tracer is None:
        return None
    return tracer.start_span(name, attributes=attributes, kind=_client_kind)


def end_after(
    current: "Span | None",
    awaitable: Awaitable[_T],
    finish: Callable[["Span", _T], None] | None = None,
) -> Awaitable[_T]:
    """`awaitable`, ending `current` when it completes (`finish(span, result)` adds attributes first)."""
    if current is None:
        return awaitable
    span_ = current

    async def awaited() -> _T:
        try:
            value = await awaitable
        except BaseException as exc:
            fail(span_, exc)
            raise
        else:
            if finish is not None:
                finish(span_, value)
            return value
        finally:
            span_.end()

    return awaited()


def capture() -> Any:
    """The caller's trace context, for `attached` (None when tracing is off)."""
    if _tracer is None:
        return None
    from opentelemetry import context

    return context.get_current()


@contextmanager
def attached(captured: Any) -> Iterator[None]:
    """Run the block in a context `capture()` took, while its span is still open (a span that ended long ago is
    no parent: the block then keeps its own context)."""
    if captured is None:
        yield
        return
    from opentelemetry import context, trace

    if not trace.get_current_span(captured).is_recording():
        yield
        return
    token = context.attach(captured)
    try:
        yield
    finally:
        context.detach(token)


def carried(awaitable: Awaitable[_T]) -> Awaitable[_T]:
    """`awaitable`, run in the caller's trace context wherever it is awaited: for driver coroutines that make
    further calls themselves (a SCAN iteration), so their spans join the caller's."""
    if _tracer is None:
        return awaitable
    captured = capture()

    async def in_context() -> _T:
        with attached(captured):
            return await awaitable

    return in_context()


def fail(current: "Span", exc: BaseException) -> None:
    """Record an exception on a span and mark it failed."""
    from opentelemetry.trace import Status, StatusCode

    current.record_exception(exc)
    current.set_status(Status(StatusCode.ERROR, type(exc).__name__))


def caller(skip: Iterable[str]) -> str:
    """`module.qualname` of the nearest calling function of this project outside the modules in `skip`
    (the repository or query function a store call was made for)."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith(("memory_runtime.", "memory_ops.", "memory_assets.")) and module not in skip:
            return f"{module}.{frame.f_code.co_qualname}"
        frame = frame.f_back  # type: ignore[assignment]  # None ends the loop
    return ""


# ---- worker threads ------------------------------------------------------------------------------------


class ContextThreadPool(ThreadPoolExecutor):
    """A thread pool whose jobs run in the context of the code that submitted them (so a strategy's span is
    a child of the remember() that started it); used in place of the plain pool while tracing is on."""

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        return super().submit(copy_context().run, fn, *args, **kwargs)
