"""Before/after benchmark of two source trees: bench_remember and bench_write, alternating, on the same machine.

    .venv/bin/python benchmarks/compare_trees.py [--before /work/wt-before] [--rounds 2]

Each round runs, in this order, `bench_remember.py --turns 10000 --queries 300` and `bench_write.py` of the
*before* tree and then of this tree, each tree's own scripts with its own code first on PYTHONPATH (same
interpreter and installed dependencies: this venv). Alternating rounds spread drift in the machine's load over
both trees. Every benchmark writes its results file into its tree; those files are put back as they were, so
only benchmarks/results/redesign_before_after.md (the two tables from this one run) is left.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
AFTER = HERE.parent
RESULTS = HERE / "results" / "redesign_before_after.md"
BENCHES = {
    "remember": ["benchmarks/bench_remember.py", "--turns", "10000", "--queries", "300"],
    "write": ["benchmarks/bench_write.py"],
}
OVERWRITTEN = ["benchmarks/results/remember.md", "benchmarks/results/write.md"]
REMEMBER_ROWS = ["remember()", "raw vector query", "vector", "fulltext", "context", "episodic", "total"]
WRITE_ROWS = ["store_turn p50", "store_turn p95", "store_turn p99", "store_turns throughput"]


def tree_env(tree: Path) -> dict[str, str]:
    """The environment that makes `tree`'s packages win over the editable install."""
    return {**os.environ, "PYTHONPATH": str(tree)}


def check_tree(tree: Path) -> str:
    """The memory_runtime package a run in `tree` imports (must be the tree's own)."""
    out = subprocess.run(
        [sys.executable, "-c", "import memory_runtime; print(memory_runtime.__file__)"],
        cwd=tree, env=tree_env(tree), capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if not out.startswith(str(tree)):
        raise SystemExit(f"{tree}: imports memory_runtime from {out}, not from the tree")
    return out


def number(cell: str) -> float:
    """The first number of a table cell ('10.9 ms', '1344 turns/s', '16481 turns/s (0.6 s)')."""
    return float(re.search(r"-?\d+(?:\.\d+)?", cell).group())  # type: ignore[union-attr]


def parse_remember(stdout: str) -> dict[str, float]:
    """p50/p95 (ms) of the rows of bench_remember's table (one size)."""
    out: dict[str, float] = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in REMEMBER_ROWS:
            out[f"{cells[0]} p50"], out[f"{cells[0]} p95"] = number(cells[1]), number(cells[2])
    return out


def parse_write(stdout: str) -> dict[str, float]:
    """The store_turn percentiles (ms) and the store_turns throughput (turns/s) of bench_write's table."""
    out: dict[str, float] = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2:
            name = next((r for r in WRITE_ROWS if cells[0].startswith(r)), None)
            if name:
                out[name] = number(cells[1])
    return out


def run_bench(tree: Path, bench: str) -> tuple[dict[str, float], float, float]:
    """One benchmark of `tree`: its parsed measures, wall time (s) and the 1-minute load average at its start."""
    load, started = os.getloadavg()[0], time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *BENCHES[bench]], cwd=tree, env=tree_env(tree), capture_output=True, text=True
    )
    if proc.returncode:
        raise SystemExit(f"{tree}: {' '.join(BENCHES[bench])} failed:\n{proc.stderr[-3000:]}")
    parse = parse_remember if bench == "remember" else parse_write
    return parse(proc.stdout), time.perf_counter() - started, load


def show(name: str, value: float) -> str:
    """A measure's value with its unit: turns/s for the throughput, else milliseconds."""
    return f"{value:.0f} turns/s" if "throughput" in name else f"{value:.2f} ms"


def table(bench: str, runs: dict[str, list[dict[str, float]]]) -> str:
    """Rows: measures; columns: each run of each tree, the means and the change of the mean."""
    n = len(runs["after"])
    head = [f"{tree} #{i + 1}" for tree in ("before", "after") for i in range(n)]
    lines = [
        f"| {bench} | " + " | ".join(head) + " | mean before | mean after | change |",
        "|---|" + "---|" * (len(head) + 3),
    ]
    for name in runs["after"][0]:
        before = [r.get(name, float("nan")) for r in runs["before"]]
        after = [r.get(name, float("nan")) for r in runs["after"]]
        mb, ma = statistics.mean(before), statistics.mean(after)
        cells = " | ".join(show(name, v) for v in before + after)
        lines.append(f"| {name} | {cells} | {show(name, mb)} | {show(name, ma)} | {(ma - mb) / mb * 100:+.1f}% |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=Path("/work/wt-before"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--turns", type=int, default=10_000, help="turns stored before the remember() queries")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    BENCHES["remember"] = ["benchmarks/bench_remember.py", "--turns", str(args.turns), "--queries", str(args.queries)]
    trees = {"before": args.before.resolve(), "after": AFTER}
    imported = {name: check_tree(tree) for name, tree in trees.items()}
    commits = {
        name: subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        for name, tree in trees.items()
    }  # fmt: skip
    saved = {tree / f: (tree / f).read_bytes() for tree in trees.values() for f in OVERWRITTEN if (tree / f).exists()}
    runs: dict[str, dict[str, list[dict[str, float]]]] = {b: {"before": [], "after": []} for b in BENCHES}
    log: list[str] = []
    began = time.perf_counter()
    try:
        for r in range(args.rounds):
            for name, tree in trees.items():
                for bench in BENCHES:
                    print(f"round {r + 1}: {bench} on {name} ({tree}) ...", file=sys.stderr, flush=True)
                    measures, wall, load = run_bench(tree, bench)
                    runs[bench][name].append(measures)
                    log.append(f"| {r + 1} | {name} | {bench} | {wall:.0f} s | {load:.2f} |")
    finally:
        for path, data in saved.items():  # the benchmarks' own results files: discarded
            path.write_bytes(data)
    remember = table(f"remember() at {args.turns:,} turns", runs["remember"])
    write = table("write path", runs["write"])
    print(remember + "\n\n" + write)
    loads = [float(line.rsplit("|", 2)[-2]) for line in log]
    RESULTS.write_text(
        "# Before/after the layout redesign\n\n"
        "Regenerate: `.venv/bin/python benchmarks/compare_trees.py --before /work/wt-before --rounds "
        f"{args.rounds} --turns {args.turns} --queries {args.queries}` (the before tree checked out at its commit)\n\n"
        f"before = commit {commits['before']} (the tree before the `Layout: ...` redesign), after = commit "
        f"{commits['after']} (this branch). Each tree runs its own `bench_remember.py --turns {args.turns} "
        f"--queries {args.queries}` ({args.turns:,} turns, 10k facts, 5k entities, "
        f"{args.queries} questions) and `bench_write.py` (1000 store_turn, 10k turns "
        "in batches of 500) with its own code first on PYTHONPATH "
        f"(`{imported['before']}`, `{imported['after']}`) and the same interpreter and dependencies; rounds "
        "alternate before, after, before, after. Embedded stack, FalkorDB graph, hashing embedder, 384 "
        f"dimensions. Measured {datetime.now(UTC):%Y-%m-%d}; whole run {time.perf_counter() - began:.0f} s.\n\n"
        f"**The machine was shared**: 2 cores, other engineers' test suites and benchmarks running beside this "
        f"one; the 1-minute load average at the start of each benchmark ranged {min(loads):.2f}-{max(loads):.2f} "
        "(2.0 = both cores busy). Differences of a few tens of percent between two runs of the *same* tree are "
        "noise at this load: compare the before and after columns with the spread within each tree.\n\n"
        + remember
        + "\n\n"
        + write
        + "\n\nRuns, in order:\n\n"
        + "| round | tree | benchmark | wall time | load average at start |\n|---|---|---|---|---|\n"
        + "\n".join(log)
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
