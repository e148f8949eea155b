"""The asyncio bridge on its own (no store): a cancellation always ends the call it cancels."""

import asyncio
from typing import Any

import pytest

from memory_runtime.stores import bridge


async def _swallowing_io(started: asyncio.Event) -> str:
    """A driver coroutine that swallows a cancellation landing as its I/O completes (Python 3.11's
    `asyncio.wait_for` does this: redis-py awaits every write through it when socket_timeout is set)."""
    started.set()
    try:
        await asyncio.sleep(0.05)
    except asyncio.CancelledError:
        pass
    return "reply"


def test_a_cancellation_a_driver_swallows_still_cancels_the_bridged_call() -> None:
    steps: list[str] = []

    def logic(started: asyncio.Event) -> str:
        steps.append(bridge.await_io(_swallowing_io(started)))
        steps.append("went on after the cancellation")  # must not happen
        return "done"

    async def main() -> None:
        started = asyncio.Event()
        call = asyncio.create_task(bridge.run(logic, started))
        await started.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    asyncio.run(main())
    assert steps == []


def test_a_timeout_around_a_bridged_call_raises_timeout_error_even_if_the_driver_swallows_it() -> None:
    async def main() -> Any:
        started = asyncio.Event()
        async with asyncio.timeout(0.01):
            return await bridge.run(lambda: bridge.await_io(_swallowing_io(started)))

    with pytest.raises(TimeoutError):
        asyncio.run(main())


def test_a_call_nobody_cancels_returns_its_result_and_its_errors() -> None:
    async def io(value: int) -> int:
        await asyncio.sleep(0)
        if value < 0:
            raise ValueError("negative")
        return value * 2

    assert asyncio.run(bridge.run(lambda: bridge.await_io(io(2)) + bridge.await_io(io(3)))) == 10
    with pytest.raises(ValueError, match="negative"):
        asyncio.run(bridge.run(lambda: bridge.await_io(io(-1))))
