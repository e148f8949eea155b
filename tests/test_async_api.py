"""AsyncAgentMemory on the real stores: concurrency, cancellation, the event loop never blocked, clean close."""

import asyncio

from memory_runtime import AsyncAgentMemory, Turn
from memory_runtime.config import Settings


def test_smoke(stores, settings: Settings) -> None:
    async def main() -> None:
        async with AsyncAgentMemory("u1", "c1", settings=settings) as memory:
            r = await memory.store_turn(Turn(conversation_id="c1", index=0, role="user", content="I love Cython parsers"))
            assert r.inserted == 1
            b = await memory.remember("Cython")
            assert b.relevant_turns
            f = await memory.learn_fact("Ada likes Cython")
            assert f.id
            assert [t.content for t in await memory.working.get_recent_turns(limit=10)] == ["I love Cython parsers"]
            print(await memory.forget_user())

    asyncio.run(main())
