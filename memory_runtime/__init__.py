"""memory_runtime: the thin library agents import to store and recall memories.

    from memory_runtime import AgentMemory, Turn, Entity, Fact, Goal, Strategy, MemoryBundle

Names are resolved lazily, so importing a submodule (or this package) stays cheap.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "AgentMemory": "memory_runtime.memory",
    "Turn": "memory_runtime.models",
    "Entity": "memory_runtime.models",
    "Fact": "memory_runtime.models",
    "Goal": "memory_runtime.models",
    "Strategy": "memory_runtime.models",
    "Reflection": "memory_runtime.models",
    "MemoryBundle": "memory_runtime.models",
    "Settings": "memory_runtime.config",
    "load_settings": "memory_runtime.config",
    "WriteResult": "memory_runtime.episodic",
}

if TYPE_CHECKING:  # pragma: no cover
    from memory_runtime.config import Settings, load_settings  # noqa: F401
    from memory_runtime.episodic import WriteResult  # noqa: F401
    from memory_runtime.memory import AgentMemory  # noqa: F401
    from memory_runtime.models import Entity, Fact, Goal, MemoryBundle, Reflection, Strategy, Turn  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'memory_runtime' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
