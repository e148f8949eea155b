"""memory_runtime: the thin library agents import to store and recall memories.

    from memory_runtime import AgentMemory, AsyncAgentMemory, Turn, Entity, Fact, Goal, Strategy, MemoryBundle

Names are resolved lazily, so importing a submodule (or this package) stays cheap.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "AgentMemory": "memory_runtime.api",
    "AsyncAgentMemory": "memory_runtime.async_api",
    "Turn": "memory_runtime.domain.models",
    "Entity": "memory_runtime.domain.models",
    "Fact": "memory_runtime.domain.models",
    "Goal": "memory_runtime.domain.models",
    "Strategy": "memory_runtime.domain.models",
    "Reflection": "memory_runtime.domain.models",
    "MemoryBundle": "memory_runtime.domain.models",
    "Settings": "memory_runtime.config",
    "load_settings": "memory_runtime.config",
    "WriteResult": "memory_runtime.memory.episodic",
}

if TYPE_CHECKING:  # pragma: no cover
    from memory_runtime.api import AgentMemory  # noqa: F401
    from memory_runtime.async_api import AsyncAgentMemory  # noqa: F401
    from memory_runtime.config import Settings, load_settings  # noqa: F401
    from memory_runtime.domain.models import Entity, Fact, Goal, MemoryBundle, Reflection, Strategy, Turn  # noqa: F401
    from memory_runtime.memory.episodic import WriteResult  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'memory_runtime' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
