"""Score extractors on the extraction evaluation set: precision and recall per category and per set.

    .venv/bin/python benchmarks/extraction_eval/score.py [--before REV] [--llm-replay] [--record] [--show-errors N]

Three sets, scored separately (README.md next to this file): `data/generated.jsonl` (templated, generate.py),
`dev.jsonl` (hand-written, the rules may be tuned on it) and `holdout.jsonl` (hand-written before the rules-3
work and never tuned on). Each case is one conversation of one or more turns; a prediction is every fact the
extractor returns for its turns. A fact is the item (subject, predicate, object), plus its date when the
label has one; a negation is the item ("not", subject, predicate, object). Items match after normalisation:
case, accents, punctuation, articles and company suffixes are ignored ("the University of Toronto" =
"University of Toronto", "Acme Corp" = "Acme"). Precision = matched / predicted, recall = matched /
expected, per category and overall.

`--before REV` also scores the rule extractor of git revision REV (its `memory_runtime/` exported to a
temporary directory and run in a subprocess) on the same cases, so before and after come from one run.
`--llm-replay` also scores the LLM extractor on the cases that have a recorded chat.completions payload in
tests/fixtures/openai/extraction_eval/ (served through an httpx.MockTransport: no network). `--record` calls
the configured model (MEMORY_LLM_MODEL, MEMORY_OPENAI_API_KEY, MEMORY_OPENAI_BASE_URL) for every dev case
and writes its payloads there. The results table goes to benchmarks/results/extraction.md.
"""

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# the code under test: this checkout, or the tree of another revision exported by `--before`
sys.path.insert(0, os.environ.get("EXTRACTION_EVAL_CODE", str(ROOT)))

from memory_runtime.extraction import EXTRACTOR_VERSION  # noqa: E402
from memory_runtime.extraction.types import Extraction, Extractor, TurnInput  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "extraction.md"
RECORDED = ROOT / "tests" / "fixtures" / "openai" / "extraction_eval"
COMMAND = ".venv/bin/python benchmarks/extraction_eval/score.py --llm-replay"
THROUGHPUT = """## Consolidation throughput (rule extractor)

Whole pipeline, `.venv/bin/python benchmarks/bench_consolidation.py` (10,000 synthetic turns, 50 users,
embedded PostgreSQL + FalkorDB, 2 cores shared with other sessions; load average 1 to 9 during these runs).
The two versions were run back to back, in both orders; rules-2 ran from this tree with
`memory_runtime/extraction/` of 6612b50 swapped in:

| run | load average | rules-2 turns/s | rules-3 turns/s |
|---|---|---|---|
| rules-2 alone, before any change | about 1 | 448 | – |
| pair 1 (rules-2 first) | 4-6 | 253 | 193 |
| pair 2 (rules-3 first) | 6-9 | 125 | 127 |

The pipeline number follows the machine's load, not the rules: the same cases write the same work (2666 vs
2668 facts created, 1122 vs 1127 relations). Extraction alone, both versions alternating in one run
(`.venv/bin/python benchmarks/extraction_eval/speed.py --before 6612b50 --turns 10000 --repeat 2`):

| extractor | spaCy parse | rules on the parses | extraction (both) |
|---|---|---|---|
| rules-2 | 813 | 16893 | 775 |
| rules-3 | 783 | 13384 | 739 |

The rules are about 6 % of extraction time; rules-3's extra rules cost about 1.5 % of it (the parse
columns differ by load alone). On an idle machine rules-3 stays where rules-2 was (448 turns/s, above
the 200 turns/s floor); on this shared machine under load neither version reaches 200 every time.
benchmarks/results/consolidation.md holds the latest rules-3 run (pair 2)."""
_ARTICLES = frozenset({"a", "an", "the"})
_SUFFIXES = frozenset("inc corp corporation co company ltd limited llc gmbh ag sa plc".split())

Item = tuple[str, ...]


def load(path: Path) -> list[dict[str, Any]]:
    """The cases of one JSONL file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def norm(text: str) -> str:
    """Lower case, no accents, punctuation, articles, possessive 's or company suffixes."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).replace("’", "'")
    text = re.sub(r"'s\b", "", text)
    words = [w for w in re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", text) if w not in _ARTICLES]
    core = [w for w in words if w not in _SUFFIXES]
    return " ".join(core or words)


def expected_items(case: dict[str, Any]) -> set[Item]:
    """The case's labels as normalised items."""
    out = {tuple(norm(x) for x in e) for e in case["expected"]}
    return out | {("not", *(norm(x) for x in n)) for n in case.get("negated", [])}


def predicted_items(case: dict[str, Any], extractions: Sequence[Extraction]) -> set[Item]:
    """What the extractor found for the case, as normalised items (dates only where the label has one)."""
    dated = {tuple(norm(x) for x in e[:3]) for e in case["expected"] if len(e) > 3}
    out: set[Item] = set()
    for ext in extractions:
        for f in ext.facts:
            triple = (norm(f.subject), norm(f.predicate), norm(f.object))
            if f.negated:
                out.add(("not", *triple))
            elif triple in dated:
                out.add((*triple, norm(f.when or "")))
            else:
                out.add(triple)
    return out


def turns_of(case: dict[str, Any]) -> list[TurnInput]:
    """The case's turns as the extractor reads them (one conversation per case)."""
    return [
        TurnInput(
            t["text"], t["role"], datetime.fromisoformat(t["at"].replace("Z", "+00:00")), t.get("speaker"), case["id"]
        )
        for t in case["turns"]
    ]


def run(extractor: Extractor, cases: Sequence[dict[str, Any]]) -> list[tuple[dict[str, Any], set[Item], set[Item]]]:
    """(case, expected, predicted) for every case; all turns go through one extract_turns call."""
    turns = [t for case in cases for t in turns_of(case)]
    extractions = extractor.extract_turns(turns)
    out, at = [], 0
    for case in cases:
        n = len(case["turns"])
        out.append((case, expected_items(case), predicted_items(case, extractions[at : at + n])))
        at += n
    return out


def table(results: Iterable[tuple[dict[str, Any], set[Item], set[Item]]]) -> list[tuple[str, int, int, int, int]]:
    """(category, cases, expected, predicted, matched) per category and `overall` last."""
    rows: dict[str, Counter[str]] = {}
    for case, exp, pred in results:
        for key in (case["category"], "overall"):
            c = rows.setdefault(key, Counter())
            c["cases"] += 1
            c["expected"] += len(exp)
            c["predicted"] += len(pred)
            c["matched"] += len(exp & pred)
    order = sorted(k for k in rows if k != "overall") + ["overall"]
    return [(k, rows[k]["cases"], rows[k]["expected"], rows[k]["predicted"], rows[k]["matched"]) for k in order]


def ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "–"


def markdown(title: str, rows: list[tuple[str, int, int, int, int]]) -> list[str]:
    """One results table."""
    lines = [
        f"### {title}",
        "",
        "| category | cases | expected | predicted | matched | precision | recall |",
        "|---|---|---|---|---|---|---|",
    ]
    for cat, cases, exp, pred, hit in rows:
        name = f"**{cat}**" if cat == "overall" else cat
        lines.append(f"| {name} | {cases} | {exp} | {pred} | {hit} | {ratio(hit, pred)} | {ratio(hit, exp)} |")
    return lines + [""]


def errors(results: Iterable[tuple[dict[str, Any], set[Item], set[Item]]], limit: int) -> None:
    """Print the cases the extractor got wrong (missed and spurious items)."""
    shown = 0
    for case, exp, pred in results:
        if exp != pred and shown < limit:
            shown += 1
            print(f"{case['id']}: {' / '.join(t['text'] for t in case['turns'])}")
            for item in sorted(exp - pred):
                print(f"    missed   {item}")
            for item in sorted(pred - exp):
                print(f"    spurious {item}")


def llm_replay(cases: Sequence[dict[str, Any]]) -> tuple[Extractor, list[dict[str, Any]]]:
    """The LLM extractor answering from recorded payloads, and the cases that have one."""
    import httpx
    from openai import OpenAI

    from memory_runtime.extraction.llm import LLMExtractor

    recorded = {p.stem: json.loads(p.read_text()) for p in RECORDED.glob("*.json")}
    have = [c for c in cases if c["id"] in recorded]
    queue = [recorded[c["id"]] for c in have]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=queue.pop(0))

    client = OpenAI(
        api_key="sk-test",  # the replay transport answers; no key is sent anywhere
        base_url="https://replay.invalid/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        max_retries=0,
    )
    model = str(queue[0].get("model", "recorded")) if queue else "recorded"
    return _PerCase(LLMExtractor(model, client)), have


class _PerCase:
    """Sends each case's turns as one request (the recorded payloads are one per case)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def extract(self, texts: Sequence[str], roles: Sequence[str] | None = None) -> list[Extraction]:
        return self.inner.extract(texts, roles)  # type: ignore[no-any-return]

    def extract_turns(self, turns: Sequence[TurnInput]) -> list[Extraction]:
        out: list[Extraction] = []
        i = 0
        while i < len(turns):
            j = i
            while j < len(turns) and turns[j].conversation_id == turns[i].conversation_id:
                j += 1
            out += self.inner.extract_turns(turns[i:j])
            i = j
        return out


def record(cases: Sequence[dict[str, Any]]) -> None:
    """Call the configured live model once per case and store its raw chat.completions payloads."""
    import httpx

    from memory_runtime.config import load_settings
    from memory_runtime.extraction.llm import LLMExtractor

    RECORDED.mkdir(parents=True, exist_ok=True)
    payloads: list[dict[str, Any]] = []
    client = httpx.Client(event_hooks={"response": [lambda r: (r.read(), payloads.append(r.json()))]})
    extractor = _PerCase(LLMExtractor.from_settings(load_settings(), http_client=client))
    for case in cases:
        payloads.clear()
        extractor.extract_turns(turns_of(case))
        if payloads:
            (RECORDED / f"{case['id']}.json").write_text(json.dumps(payloads[-1], indent=1) + "\n")


SETS = {  # title -> file, in table order
    "templated (data/generated.jsonl)": HERE / "data" / "generated.jsonl",
    "dev, hand-written, tuned on (dev.jsonl)": HERE / "dev.jsonl",
    "held-out, hand-written, never tuned on (holdout.jsonl)": HERE / "holdout.jsonl",
}
Rows = list[tuple[str, int, int, int, int]]


def short(title: str) -> str:
    """'dev, hand-written, tuned on (dev.jsonl)' -> 'dev'."""
    return title.split(",")[0].split(" (")[0]


def score_rules(show_errors: int = 0) -> dict[str, Rows]:
    """The rule extractor of the code on sys.path, per set."""
    from memory_runtime.extraction.spacy_extractor import SpacyExtractor

    rules = SpacyExtractor()
    out = {}
    for title, path in SETS.items():
        results = run(rules, load(path))
        out[title] = table(results)
        if show_errors:
            print(f"## {title}")
            errors(results, show_errors)
    return out


@contextlib.contextmanager
def exported(rev: str) -> Iterator[str]:
    """A temporary directory holding `memory_runtime/` as it is at git revision `rev`."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "memory_runtime"],
            check=True,
            capture_output=True,
        ).stdout
        tar = Path(tmp) / "code.tar"
        tar.write_bytes(archive)
        with tarfile.open(tar) as fh:
            fh.extractall(tmp, filter="data")
        yield tmp


def score_revision(rev: str) -> tuple[str, dict[str, Rows]]:
    """(extractor version, rows per set) of the rule extractor at git revision `rev`, on today's cases."""
    with exported(rev) as tmp:
        child = subprocess.run(
            [sys.executable, __file__, "--rows-json"],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "EXTRACTION_EVAL_CODE": tmp},
        )
    found = json.loads(child.stdout)
    return found["version"], {k: [tuple(r) for r in v] for k, v in found["rows"].items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", metavar="REV", help="also score the rules of git revision REV")
    parser.add_argument("--llm-replay", action="store_true", help="also score the LLM extractor on recorded payloads")
    parser.add_argument("--record", action="store_true", help="record dev-set payloads from the configured LLM")
    parser.add_argument("--show-errors", type=int, default=0, metavar="N", help="print N wrong cases per set")
    parser.add_argument("--rows-json", action="store_true", help=argparse.SUPPRESS)  # the --before subprocess
    args = parser.parse_args()
    if args.rows_json:
        print(json.dumps({"version": EXTRACTOR_VERSION, "rows": score_rules()}))
        return 0
    dev = load(HERE / "dev.jsonl")
    if args.record:
        record(dev)
        return 0
    counts = {title: load(path) for title, path in SETS.items()}
    n_turns = sum(len(c["turns"]) for cases in counts.values() for c in cases)
    sizes = " + ".join(f"{len(cases)} {short(title)}" for title, cases in counts.items())
    command = COMMAND + (f" --before {args.before}" if args.before else "")
    lines = [
        "# Extraction evaluation",
        "",
        f"Command: `{command}`",
        "",
        f"{sizes} cases "
        f"({n_turns} turns). Rule extractor `{EXTRACTOR_VERSION}`. Sets, matching and labelling conventions: "
        "benchmarks/extraction_eval/README.md.",
        "",
    ]
    after = score_rules(args.show_errors)
    before_version, before = score_revision(args.before) if args.before else ("", {})
    lines += summary(after, before, before_version)
    lines += ["## Rule extractor (spaCy parses + rules, no LLM): this version", ""]
    for title, rows in after.items():
        lines += markdown(title, rows)
    if before:
        lines += [f"## The same cases through the rules of `{args.before}` (`{before_version}`), before", ""]
        for title, rows in before.items():
            lines += markdown(title, rows)
    if args.llm_replay:
        extractor, have = llm_replay(dev)
        lines += [
            "## LLM extractor on recorded payloads",
            "",
            f"{len(have)} dev cases with a payload in tests/fixtures/openai/extraction_eval/ "
            "(see its README: illustrative payloads in the API's wire format, not captures of a live "
            "model, so this checks the LLM path end to end, not a model's quality). The rule extractor "
            "on the same cases is shown for comparison.",
            "",
        ]
        if have:
            from memory_runtime.extraction.spacy_extractor import SpacyExtractor

            lines += markdown("LLM extractor (replayed)", table(run(extractor, have)))
            lines += markdown("rule extractor, same cases", table(run(SpacyExtractor(), have)))
    lines += THROUGHPUT.splitlines() + [""]
    text = "\n".join(lines)
    print(text)
    RESULTS.write_text(text)
    return 0


def summary(after: dict[str, Rows], before: dict[str, Rows], before_version: str) -> list[str]:
    """One line per set: overall precision / recall and the weakest category, after (and before)."""

    def cells(rows: Rows) -> str:
        *cats, (_, _, exp, pred, hit) = rows
        scored = [(hit_c / exp_c, cat) for cat, _, exp_c, _, hit_c in cats if exp_c]
        low = min(scored) if scored else (0.0, "–")
        return f"{ratio(hit, pred)} | {ratio(hit, exp)} | {low[1]} {low[0]:.2f}"

    head = "| set | precision | recall | lowest category recall |"
    if before:
        head += f" `{before_version}`: precision | recall | lowest |"
    sep = "|" + "---|" * (head.count("|") - 1)
    lines = ["## Summary", "", head, sep]
    for title, rows in after.items():
        row = f"| {short(title)} | {cells(rows)} |"
        if before:
            row += f" {cells(before[title])} |"
        lines.append(row)
    return lines + [""]


if __name__ == "__main__":
    sys.exit(main())
