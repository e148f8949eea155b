"""A loop-lag probe for tests of code that must not block the event loop."""

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def probed(work: Awaitable[T], lags: list[float]) -> T:
    """`await work` while a probe task sleeping 1 ms appends to `lags` how late the loop woke it (wall seconds)."""
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            began = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append(time.perf_counter() - began - 0.001)

    prober = asyncio.create_task(probe())
    try:
        return await work
    finally:
        done.set()
        await prober


def p95(lags: list[float]) -> float:
    """The 95th percentile lag (single stalls of a shared machine's scheduler aside)."""
    return sorted(lags)[int(len(lags) * 0.95)]
