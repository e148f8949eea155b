"""Traced Redis clients: one client span per command, or per pipeline (a command group, one round trip).

`RedisStore` builds its client from these classes only while tracing is on (`client_class()`). A span is named
by the command (`MGET`) or `PIPELINE` / `MULTI` with the group's commands in `db.query.summary`, and carries the
calling function (`code.function.name`); never a key (keys hold user and conversation ids) nor a value.
"""

from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline as AsyncPipeline
from redis.client import Pipeline
from redis.commands.core import AsyncScript

from memory_runtime import tracing

SYSTEM = "redis"
_PLUMBING = frozenset({__name__, "memory_runtime.tracing", "memory_runtime.stores.bridge"})
_MAX_SUMMARY = 8  # distinct command names listed in a pipeline's summary


def _command(args: tuple[Any, ...]) -> str:
    name = args[0] if args else "?"
    return (name.decode() if isinstance(name, bytes) else str(name)).upper()


def _attributes(operation: str, summary: str) -> dict[str, tracing.AttributeValue]:
    return {
        "db.system.name": SYSTEM,
        "db.system": SYSTEM,
        "db.operation.name": operation,
        "db.query.summary": summary,
        "code.function.name": tracing.caller(_PLUMBING),
    }


def _group(pipe: Any) -> tuple[str, dict[str, tracing.AttributeValue]]:
    """Name and attributes of a pipeline about to run its queued commands."""
    commands = [_command(args) for args, _ in pipe.command_stack]
    operation = "MULTI" if pipe.transaction else "PIPELINE"
    names = list(dict.fromkeys(commands))
    listed = " ".join(names[:_MAX_SUMMARY]) + (" ..." if len(names) > _MAX_SUMMARY else "")
    attributes = _attributes(operation, f"{operation} {listed}".strip())
    attributes["db.operation.batch.size"] = len(commands)
    return operation, attributes


class TracedPipeline(Pipeline):
    """A pipeline whose execution is one client span."""

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        if not tracing.enabled():
            return super().execute(raise_on_error)
        name, attributes = _group(self)
        with tracing.span(name, attributes, client=True):
            return super().execute(raise_on_error)


class TracedRedis(redis.Redis):
    """A Redis client whose commands and pipelines are client spans."""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if not tracing.enabled():
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        name = _command(args)
        with tracing.span(name, _attributes(name, name), client=True):
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        return TracedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


class TracedAsyncPipeline(AsyncPipeline):
    """The asyncio pipeline: its span opens where shared code calls `execute()` (see TracedAsyncConnection)."""

    def execute(self, raise_on_error: bool = True) -> Any:  # the driver's awaitable, wrapped to end the span
        if not tracing.enabled():
            return super().execute(raise_on_error)
        name, attributes = _group(self)
        return tracing.end_after(tracing.start_client_span(name, attributes), super().execute(raise_on_error))


class TracedAsyncScript(AsyncScript):
    """A Lua script whose EVALSHA (or EVAL) span joins the trace it was registered in while that is open (the
    bridge awaits the script's coroutine outside the caller's context; working memory registers per call)."""

    def __init__(self, registered_client: Any, script: Any) -> None:
        super().__init__(registered_client, script)
        self._context = tracing.capture()

    async def __call__(self, keys: Any = None, args: Any = None, client: Any = None) -> Any:
        with tracing.attached(self._context):
            return await super().__call__(keys, args, client)


class _CarriedIterator:
    """An async iterator (SCAN) whose steps run in the trace context of the code iterating it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __aiter__(self) -> "_CarriedIterator":
        return self

    def __anext__(self) -> Any:
        return tracing.carried(self.inner.__anext__())


class TracedAsyncRedis(aioredis.Redis):
    """The asyncio client: a command's span opens where it is called and ends when its coroutine completes."""

    def execute_command(self, *args: Any, **options: Any) -> Any:  # the awaitable, wrapped to end the span
        if not tracing.enabled():
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        name = _command(args)
        current = tracing.start_client_span(name, _attributes(name, name))
        return tracing.end_after(current, super().execute_command(*args, **options))  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> AsyncPipeline:
        return TracedAsyncPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)

    def register_script(self, script: Any) -> Any:  # an AsyncScript (redis-py types the sync Script here)
        return TracedAsyncScript(self, script)

    def scan_iter(self, *args: Any, **kwargs: Any) -> Any:
        return _CarriedIterator(super().scan_iter(*args, **kwargs))


def client_class() -> type[redis.Redis]:
    """The class of the sync client: traced while tracing is on."""
    return TracedRedis if tracing.enabled() else redis.Redis


def async_client_class() -> type[aioredis.Redis]:
    """The class of the asyncio client: traced while tracing is on."""
    return TracedAsyncRedis if tracing.enabled() else aioredis.Redis
