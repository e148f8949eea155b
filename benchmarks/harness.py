"""Shared benchmark plumbing: a private embedded stack, timing wrappers, percentiles and a progress line."""

import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from memory_ops.stack.embedded import EmbeddedStack
from memory_runtime.config import load_settings
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.migrations import migrate


@contextmanager
def embedded_stores(prefix: str, **overrides: Any) -> Iterator[Stores]:
    """Migrated Stores on a private embedded stack in a temporary directory; the stack is stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        stack = EmbeddedStack(Path(tmp) / "stack")
        env = stack.up()
        try:
            settings = load_settings(
                postgres_uri=env.postgres_uri, graph_uri=env.graph_uri, redis_uri=env.redis_uri, _env_file=None,
                **overrides,
            )  # fmt: skip
            with Stores.open(settings) as stores:
                migrate(stores.pg, stores.graph, settings.embedding_dimensions, stores.embedder.inner)
                yield stores
        finally:
            stack.down()


class Timer:
    """Accumulates the time spent inside the callables it wraps (a wrapped function binds as a method)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.calls = 0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn`, timed into this Timer."""

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - t
                self.calls += 1

        return wrapped


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`."""
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def progress(what: str, done: int, total: int, started: float) -> None:
    """Rewrite one stderr line with count, rate and ETA."""
    rate = done / max(time.perf_counter() - started, 1e-9)
    eta = (total - done) / rate if rate else 0.0
    print(f"\r  {what}: {done:>7}/{total}  {rate:7.0f}/s  ETA {eta:6.1f} s", end="", file=sys.stderr, flush=True)
