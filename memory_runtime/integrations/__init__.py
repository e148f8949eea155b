"""Drop-in memory for agent frameworks, each an optional extra that is imported only when used:

* `memory_runtime.integrations.langgraph.MemoryStore`: a LangGraph `BaseStore` (`pip install agent-memory[langgraph]`).
* `memory_runtime.integrations.openai_agents.MemorySession` and `memory_tools`: an OpenAI Agents SDK `Session`
  and function tools (`pip install agent-memory[openai-agents]`).

This package imports neither framework; each module does, and names the extra to install when it is missing.
"""

from importlib import import_module
from types import ModuleType


def require(module: str, extra: str) -> ModuleType:
    """Import `module` of an optional extra, or raise ImportError naming `pip install agent-memory[extra]`."""
    try:
        return import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{module} is not installed: this integration needs the {extra!r} extra, "
            f"`pip install agent-memory[{extra}]`"
        ) from exc
