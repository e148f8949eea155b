"""Shared benchmark plumbing: timing wrappers, percentiles and a progress line (no project logic here)."""

import sys
import time
from collections.abc import Callable
from typing import Any


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
