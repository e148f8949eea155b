"""The asyncio bridge: the runtime's one implementation of the logic, run on native asyncio drivers.

`AsyncAgentMemory` does not have a second copy of the memory logic. It runs the same code as `AgentMemory`
(validation, statements, fusion, packing, id derivation) in a greenlet, on stores whose clients are the
drivers' asyncio clients (psycopg `AsyncConnectionPool`, `redis.asyncio`, neo4j `AsyncGraphDatabase`,
FalkorDB's asyncio graph). Every I/O call of those stores goes through `await_io(awaitable)`: the greenlet
switches back to the coroutine that runs it (`run`), which awaits the driver's coroutine on the event loop and
switches back in with the result, or throws the exception (a cancellation too) in at the same point. So only
I/O differs between the two APIs; no thread is involved, and the event loop runs other tasks whenever the
logic waits for a store. SQLAlchemy's asyncio extension works this way.

`Bridged` wraps a driver object so the shared code can call it as if it were the sync client (each coroutine
it returns is awaited through `await_io`), and `TaskExecutor` stands in for the thread pool the logic submits
concurrent work to (remember's strategies): each job is an asyncio task, and `task_scope` cancels the jobs of
a call together when the call fails, times out or is cancelled.
"""

import asyncio
import contextvars
import functools
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import asynccontextmanager
from typing import Any, ParamSpec, TypeVar

import greenlet

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")


class _Worker(greenlet.greenlet):
    """A greenlet running shared (sync-looking) code whose I/O its parent coroutine awaits."""


def in_bridge() -> bool:
    """Whether the caller runs inside `run` (so store I/O must go through `await_io`)."""
    return isinstance(greenlet.getcurrent(), _Worker)


def await_io(awaitable: Awaitable[_T]) -> _T:
    """Await `awaitable` on the event loop from shared code running in `run`; its result or exception."""
    current = greenlet.getcurrent()
    if not isinstance(current, _Worker):
        if inspect.iscoroutine(awaitable):
            awaitable.close()  # never awaited: no "coroutine was never awaited" warning
        raise RuntimeError("an asyncio store was used outside AsyncAgentMemory (no bridge greenlet is running)")
    parent = current.parent
    assert parent is not None  # a worker always has the greenlet of the coroutine that runs it
    result: _T = parent.switch(awaitable)
    return result


async def run(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run the sync callable `fn` in a greenlet, awaiting here every awaitable it hands to `await_io`."""
    worker = _Worker(functools.partial(fn, *args, **kwargs), greenlet.getcurrent())
    worker.gr_context = contextvars.copy_context()  # a greenlet otherwise starts with an empty context
    step: Any = worker.switch()
    cancelled: asyncio.CancelledError | None = None
    task = asyncio.current_task()
    while not worker.dead:
        requested = task.cancelling() if task is not None else 0
        try:
            value = await step
        except BaseException as exc:  # noqa: BLE001 — every exception (cancellation too) goes back in
            if isinstance(exc, asyncio.CancelledError):
                cancelled = exc
            step = worker.throw(exc)
        else:
            if task is not None and task.cancelling() > requested:
                # A cancellation was requested while the driver's coroutine ran and it returned anyway: Python
                # 3.11's `asyncio.wait_for` (redis-py's socket_timeout write path) swallows one that lands as
                # its inner future completes. The call was cancelled all the same, so it stops here.
                cancelled = asyncio.CancelledError()
                step = worker.throw(cancelled)
            else:
                step = worker.switch(value)
    if cancelled is not None:
        # The shared code may have taken the cancellation for a store failure (a driver can turn it into its
        # own error) and carried on degraded; a cancelled call must still end cancelled.
        raise cancelled
    result: _T = step
    return result


_BRIDGED_TYPES: dict[type, bool] = {}  # per result type: is it a driver object to bridge?


def _needs_bridge(kind: type) -> bool:
    known = _BRIDGED_TYPES.get(kind)
    if known is None:
        known = _BRIDGED_TYPES[kind] = (
            hasattr(kind, "__aenter__")
            or hasattr(kind, "__anext__")
            or inspect.iscoroutinefunction(getattr(kind, "__call__", None))  # noqa: B004 — an awaitable script
        )
    return known


def _settle(value: Any) -> Any:
    """A driver call's outcome for shared code: awaited if it is awaitable, bridged if it is a driver object."""
    if inspect.isawaitable(value):
        value = await_io(value)
    return Bridged(value) if _needs_bridge(type(value)) else value


class Bridged:
    """A sync view of an asyncio driver object (client, pipeline, connection, cursor, COPY, script, iterator),
    for shared code running in `run`: calls return what the driver's coroutines return, `with` is `async with`,
    iteration is `async for`. Other attributes read through unchanged."""

    __slots__ = ("target",)

    def __init__(self, target: Any) -> None:
        self.target = target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.target, name)
        if not callable(attr):
            return attr
        return functools.partial(self._call, attr)

    def _call(self, attr: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        value = attr(*args, **kwargs)
        if value is self.target:  # a chained call (redis.asyncio's pipeline queues a command and returns itself):
            return self  # nothing to await, though the pipeline is awaitable
        return _settle(value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in Bridged.__slots__:
            object.__setattr__(self, name, value)
            return
        setter = getattr(self.target, f"set_{name}", None)  # psycopg's asyncio connection: `await set_autocommit(v)`
        if callable(setter):
            _settle(setter(value))
        else:
            setattr(self.target, name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _settle(self.target(*args, **kwargs))

    def __enter__(self) -> Any:
        return _settle(self.target.__aenter__())

    def __exit__(self, *exc: Any) -> Any:
        return await_io(self.target.__aexit__(*exc))

    def __iter__(self) -> Iterator[Any]:
        iterator = self.target.__aiter__()
        while True:
            try:
                yield _settle(iterator.__anext__())
            except StopAsyncIteration:
                return


class _TaskFuture(Future[_T]):
    """The Future `TaskExecutor.submit` returns: `result()` awaits the job's task through the bridge."""

    def __init__(self, task: "asyncio.Task[_T]") -> None:
        super().__init__()
        self.task = task

    def result(self, timeout: float | None = None) -> _T:
        return await_io(self.task)  # awaiting a task from a cancelled call cancels the task too

    def done(self) -> bool:
        return self.task.done()


class _ShieldedTaskFuture(_TaskFuture[_T]):
    """A background job's Future: a caller waiting on it that is cancelled leaves the job running."""

    def result(self, timeout: float | None = None) -> _T:
        return await_io(asyncio.shield(self.task))


class _Scope:
    """The jobs one public call started."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()


JOB_NAME = "agent-memory-job"  # the name of every task a TaskExecutor starts
_SCOPE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("agent_memory_task_scope", default=None)


class TaskExecutor(Executor):
    """Runs submitted sync jobs as asyncio tasks in bridge greenlets (the asyncio stand-in for the thread pool).

    A job of a call that ends normally may outlive it (write-behind bookkeeping): it is kept here until it
    finishes, and `drain()` waits for what is left when the stores close.
    """

    def __init__(self) -> None:
        self._background: set[asyncio.Task[Any]] = set()
        self._closed = False

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        task = self._task(fn, *args, **kwargs)
        scope = _SCOPE.get()
        (scope.tasks if scope is not None else self._background).add(task)
        task.add_done_callback(self._background.discard)
        return _TaskFuture(task)

    def submit_background(self, fn: Callable[..., _T], /, *args: Any) -> Future[_T]:
        """`submit` for a job that belongs to no call (write-behind): never cancelled with the call that started
        it or with one that waits for it; `drain()` waits for it."""
        task = self._task(fn, *args)
        self.adopt({task})
        return _ShieldedTaskFuture(task)

    def _task(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> "asyncio.Task[_T]":
        if self._closed:
            raise RuntimeError("cannot schedule new jobs after the stores closed")
        return asyncio.get_running_loop().create_task(run(fn, *args, **kwargs), name=JOB_NAME)

    def adopt(self, tasks: set[asyncio.Task[Any]]) -> None:
        """Keep the unfinished `tasks` of a finished call until they are done (their errors are logged)."""
        for task in tasks:
            if not task.done():
                self._background.add(task)
                task.add_done_callback(self._background.discard)
                task.add_done_callback(_log_failure)

    async def drain(self) -> None:
        """Refuse new jobs and wait for the pending ones."""
        self._closed = True
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True


def _log_failure(task: "asyncio.Task[Any]") -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("a background memory job failed: %s", exc)


@asynccontextmanager
async def task_scope(executor: TaskExecutor) -> AsyncIterator[None]:
    """The jobs started inside: cancelled together (and awaited) if the block fails or is cancelled; left to
    finish in the background if it succeeds."""
    scope = _Scope()
    token = _SCOPE.set(scope)
    try:
        yield
    except BaseException:
        pending = [t for t in scope.tasks if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        raise
    else:
        executor.adopt(scope.tasks)
    finally:
        _SCOPE.reset(token)
