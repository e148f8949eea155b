"""Rule-extractor speed: this tree against another revision, on the consolidation benchmark's synthetic turns.

    .venv/bin/python benchmarks/extraction_eval/speed.py --before REV [--turns 10000] [--repeat 3]

The whole-pipeline number (benchmarks/bench_consolidation.py) swings with the load of a shared machine; this
times the two parts of extraction (spaCy parsing, then the rules on the parsed Docs) for both versions in
alternation in the same run, so what the rules cost is seen apart from the parser and the machine's load.
Each version runs in its own subprocess with its `memory_runtime/` first on the path (score.py's export).
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
    """Print the extractor version, turns/s of spaCy parsing and turns/s of the rules on those parses."""
    from bench_consolidation import synthetic_turns

    from memory_runtime.extraction import EXTRACTOR_VERSION
    from memory_runtime.extraction.pipeline import Coreference, extract_turn_doc
    from memory_runtime.extraction.spacy_extractor import BATCH_SIZE, load_pipeline
    from memory_runtime.extraction.types import TurnInput

    inputs = [
        TurnInput(t.content, t.role, t.timestamp, None, t.conversation_id)
        for rows in synthetic_turns(turns, 50, 11).values()
        for t in rows
    ]
    nlp = load_pipeline()
    list(nlp.pipe(t.text for t in inputs[:200]))  # warm up
    start = time.perf_counter()
    docs = list(nlp.pipe((t.text for t in inputs), batch_size=BATCH_SIZE))
    parsed = time.perf_counter()
    coref = Coreference()
    for doc, turn in zip(docs, inputs, strict=True):
        extract_turn_doc(doc, turn, coref)
    done = time.perf_counter()
    n = len(inputs)
    print(json.dumps({"version": EXTRACTOR_VERSION, "parse": n / (parsed - start), "rules": n / (done - parsed)}))


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

    runs: dict[str, dict[str, list[float]]] = {}
    with exported(args.before) if args.before else contextlib.nullcontext(None) as old:
        for _ in range(args.repeat):
            for code in ([old] if old else []) + [None]:
                found = measure(code, args.turns)
                for part in ("parse", "rules"):
                    runs.setdefault(str(found["version"]), {}).setdefault(part, []).append(float(found[part]))
    print(f"{args.turns} synthetic turns, best of {args.repeat} alternating runs (turns/s):")
    print("| extractor | spaCy parse | rules on the parses | extraction (both) |")
    print("|---|---|---|---|")
    for version, parts in runs.items():
        parse, rules = max(parts["parse"]), max(parts["rules"])
        print(f"| {version} | {parse:.0f} | {rules:.0f} | {1 / (1 / parse + 1 / rules):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
