"""`agent-memory dev` process handling (memory_ops.devserver.supervise) with a stand-in for dagster dev.

The stand-in behaves like `dagster dev`: it starts a helper process in its own process group and stops on
SIGINT (KeyboardInterrupt) or SIGTERM. The supervisor runs in a subprocess, as the CLI would, so the test
can signal it like a terminal or a service manager does.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from memory_ops.devserver import dagster_dev_command, repo_root

CHILD = textwrap.dedent(
    """
    import json, signal, subprocess, sys, time
    out, mode = sys.argv[1], sys.argv[2]
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    state = {"pid": __import__("os").getpid(), "helper": helper.pid,
             "sigint_ignored": signal.getsignal(signal.SIGINT) is signal.SIG_IGN}
    def stop(signum, frame):
        raise KeyboardInterrupt
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, stop)
    open(out, "w").write(json.dumps(state))
    try:
        while True:
            time.sleep(0.05)
    except KeyboardInterrupt:
        open(out + ".stopped", "w").write("yes")  # exits, leaving the helper to the supervisor
    """
)

SUPERVISOR = textwrap.dedent(
    """
    import os, sys
    from memory_ops.devserver import supervise
    child, out, mode, timeout = sys.argv[1:5]
    sys.exit(supervise([sys.executable, child, out, mode], cwd=os.getcwd(), env=os.environ,
                       stop_timeout_s=float(timeout)))
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _start(tmp_path: Path, mode: str, timeout: float = 10.0, ignore_sigint: bool = False):
    (tmp_path / "child.py").write_text(CHILD)
    out = tmp_path / "state.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(tmp_path / "child.py"), str(out), mode, str(timeout)],
        cwd=repo_root(),
        stdin=subprocess.DEVNULL,
        # A non-interactive shell starts background jobs with SIGINT ignored (P-D4).
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None,
    )
    deadline = time.monotonic() + 20
    while not out.exists() or not out.read_text():
        assert proc.poll() is None, "supervisor exited early"
        assert time.monotonic() < deadline, "stand-in did not start"
        time.sleep(0.05)
    return proc, json.loads(out.read_text()), out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_dev_forwards_the_signal_and_leaves_no_process_behind(tmp_path, sig):
    proc, state, out = _start(tmp_path, "polite", ignore_sigint=True)
    assert state["sigint_ignored"] is False  # restored to the default in the child (P-D4)

    proc.send_signal(sig)

    assert proc.wait(timeout=20) == 0
    assert Path(str(out) + ".stopped").exists()
    assert not _alive(state["pid"]) and not _alive(state["helper"])


def test_dev_kills_a_child_that_ignores_signals_after_the_timeout(tmp_path):
    proc, state, _ = _start(tmp_path, "stubborn", timeout=1.0)

    proc.send_signal(signal.SIGTERM)

    assert proc.wait(timeout=20) == 128 + signal.SIGKILL
    assert not _alive(state["pid"]) and not _alive(state["helper"])


def test_dev_runs_dagster_dev_on_the_workspace_of_the_repository():
    assert (repo_root() / "workspace.yaml").is_file()
    assert dagster_dev_command("127.0.0.1", 3311) == [
        sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", "3311",
    ]  # fmt: skip
