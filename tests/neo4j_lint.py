"""Headless lint of Neo4j-dialect Cypher with Neo4j's own front end (no Neo4j server needed).

Runs tools/neo4j_lint/lint.mjs (npm package @neo4j-cypher/language-support, pinned in
tools/neo4j_lint/package.json) once per `lint()` call for all statements, because a Node start-up
costs ~1-2 s while each extra statement costs tens of milliseconds.

Helper module for tests, not a test file. Node and npm are needed; `require_lint()` skips the
calling test when they are missing on a developer machine and fails it under CI (CI=true).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

TOOL_DIR = Path(__file__).resolve().parent.parent / "tools" / "neo4j_lint"
LINT_SCRIPT = TOOL_DIR / "lint.mjs"
PACKAGE = "@neo4j-cypher/language-support"

INSTALL_TIMEOUT_S = 300
LINT_TIMEOUT_S = 300

ERROR = 1  # LSP DiagnosticSeverity
WARNING = 2


class LintUnavailable(Exception):
    """The linter cannot run here (no node/npm, or the npm install failed); the message says why."""


@dataclass(frozen=True)
class Diagnostic:
    severity: int  # 1 = error, 2 = warning
    message: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        kind = {ERROR: "error", WARNING: "warning"}.get(self.severity, f"severity {self.severity}")
        return f"{self.line}:{self.column} {kind}: {self.message}"


def _package_installed() -> bool:
    return (TOOL_DIR / "node_modules" / PACKAGE / "package.json").is_file()


def ensure_installed() -> Path:
    """Return the path of the `node` executable, running `npm ci` first if the package is missing."""
    node = shutil.which("node")
    if node is None:
        raise LintUnavailable("Neo4j Cypher lint needs Node.js: `node` is not on PATH")
    if _package_installed():
        return Path(node)

    npm = shutil.which("npm")
    if npm is None:
        raise LintUnavailable(f"Neo4j Cypher lint needs npm to install {PACKAGE} into {TOOL_DIR}: `npm` is not on PATH")
    cmd = [npm, "ci", "--no-audit", "--no-fund"]
    try:
        proc = subprocess.run(
            cmd,
            cwd=TOOL_DIR,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise LintUnavailable(f"`{' '.join(cmd[1:])}` in {TOOL_DIR} did not finish in {INSTALL_TIMEOUT_S} s") from None
    except OSError as exc:
        raise LintUnavailable(f"cannot run npm in {TOOL_DIR}: {exc}") from exc
    if proc.returncode != 0 or not _package_installed():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise LintUnavailable(f"`npm ci --no-audit --no-fund` in {TOOL_DIR} failed (exit {proc.returncode}):\n{tail}")
    return Path(node)


def lint(statements: dict[str, str]) -> dict[str, list[Diagnostic]]:
    """Lint every statement (name -> Cypher text) in one Node process; diagnostics per name."""
    if not statements:
        return {}
    node = ensure_installed()
    payload = json.dumps({"statements": statements})
    try:
        proc = subprocess.run(
            [str(node), str(LINT_SCRIPT)],
            cwd=TOOL_DIR,
            input=payload,
            capture_output=True,
            text=True,
            timeout=LINT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{LINT_SCRIPT.name} did not finish in {LINT_TIMEOUT_S} s") from exc
    if proc.returncode != 0:
        detail = proc.stderr.strip() or proc.stdout.strip()
        raise RuntimeError(f"{LINT_SCRIPT.name} failed (exit {proc.returncode}): {detail}")
    try:
        raw = json.loads(proc.stdout)["results"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(f"{LINT_SCRIPT.name} printed unexpected output: {proc.stdout[:2000]!r}") from exc
    missing = set(statements) - set(raw)
    if missing:
        raise RuntimeError(f"{LINT_SCRIPT.name} returned no result for {sorted(missing)}")
    return {
        name: [
            Diagnostic(
                severity=int(d["severity"]),
                message=str(d["message"]),
                line=int(d["line"]),
                column=int(d["column"]),
            )
            for d in raw[name]
        ]
        for name in statements
    }


def errors_only(results: dict[str, list[Diagnostic]]) -> dict[str, list[Diagnostic]]:
    """Keep only error diagnostics (severity 1), dropping statements that have none."""
    errors = {name: [d for d in diags if d.severity == ERROR] for name, diags in results.items()}
    return {name: diags for name, diags in errors.items() if diags}


def require_lint() -> None:
    """Make sure the linter can run: skip the test if it cannot, or fail it under CI (CI=true)."""
    try:
        ensure_installed()
    except LintUnavailable as exc:
        reason = f"Neo4j Cypher lint unavailable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


def format_report(results: dict[str, list[Diagnostic]], statements: dict[str, str]) -> str:
    """Human-readable listing of each offending statement with its diagnostics."""
    blocks = []
    for name in sorted(results):
        diags = "\n".join(f"    {d}" for d in results[name])
        text = "\n".join(f"    | {line}" for line in statements.get(name, "").splitlines())
        blocks.append(f"  {name}:\n{diags}\n{text}")
    return "\n".join(blocks)
