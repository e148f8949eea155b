"""The integrations are optional: importing the runtime imports neither framework, and a missing extra says
which one to install."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_importing_the_runtime_and_its_api_imports_no_framework():
    done = _python(
        """
        import sys
        import memory_runtime, memory_runtime.integrations
        from memory_runtime import AgentMemory, AsyncAgentMemory, Turn
        frameworks = {"langgraph", "langchain_core", "langmem", "agents"}
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in frameworks)
        print(heavy)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [
        ("memory_runtime.integrations.langgraph", "langgraph", "langgraph"),
        ("memory_runtime.integrations.openai_agents", "agents", "openai-agents"),
    ],
)
def test_a_missing_extra_is_an_importerror_naming_the_pip_command(module, blocked, extra):
    done = _python(
        f"""
        import sys
        sys.modules[{blocked!r}] = None  # as if the package were not installed
        try:
            import {module}
        except ImportError as exc:
            print(exc)
        """
    )
    assert done.returncode == 0, done.stderr
    assert f"pip install agent-memory[{extra}]" in done.stdout
