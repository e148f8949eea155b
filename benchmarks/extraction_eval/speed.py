"""Rule-extractor speed: this tree against another revision, on the consolidation benchmark's synthetic turns.

    .venv/bin/python benchmarks/extraction_eval/speed.py --before REV [--turns 10000] [--repeat 3]

The whole-pipeline number (benchmarks/bench_consolidation.py) swings with the load of a shared machine; this
times only `SpacyExtractor.extract_turns` (spaCy + rules, one process, after a warm-up) for both versions in
alternation in the same run, so their ratio is what the rules cost. Each version runs in its own subprocess
with its `memory_runtime/` first on the path (score.py's export of REV).
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, os.environ.get("EXTRACTION_EVAL_CODE", str(HERE.parent.parent)))
sys.path.insert(1, str(HERE.parent))  # bench_consolidation and its harness


def child(turns: int) -> None:
    """Print the extractor version and turns/s of one timed pass over the synthetic turns."""
    from bench_consolidation import synthetic_turns

    from memory_runtime.extraction import EXTRACTOR_VERSION
    from memory_runtime.extraction.spacy_extractor import SpacyExtractor
    from memory_runtime.extraction.types import TurnInput

    inputs = [
        TurnInput(t.content, t.role, t.timestamp, None, t.conversation_id)
        for rows in synthetic_turns(turns, 50, 11).values()
        for t in rows
    ]
    extractor = SpacyExtractor()
    extractor.extract_turns(inputs[:200])  # load the pipeline
    start = time.perf_counter()
    extractor.extract_turns(inputs)
    print(json.dumps({"version": EXTRACTOR_VERSION, "turns_per_s": len(inputs) / (time.perf_counter() - start)}))


def measure(code: str | None, turns: int) -> dict[str, float | str]:
    env = {**os.environ, "EXTRACTION_EVAL_CODE": code} if code else dict(os.environ)
    command = [sys.executable, __file__, "--child", "--turns", str(turns)]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", metavar="REV", help="also time the rules of git revision REV")
    parser.add_argument("--turns", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.turns)
        return 0
    from score import exported

    runs: dict[str, list[float]] = {}
    with exported(args.before) if args.before else contextlib.nullcontext(None) as old:
        for _ in range(args.repeat):
            for code in ([old] if old else []) + [None]:
                found = measure(code, args.turns)
                runs.setdefault(str(found["version"]), []).append(float(found["turns_per_s"]))
    print(f"rule extraction only, {args.turns} synthetic turns, best of {args.repeat} alternating runs:")
    for version, speeds in runs.items():
        print(f"  {version}: {max(speeds):.0f} turns/s (runs: {', '.join(f'{s:.0f}' for s in speeds)})")
    if len(runs) == 2:
        (a, sa), (b, sb) = runs.items()
        print(f"  ratio {b} / {a}: {max(sb) / max(sa):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
