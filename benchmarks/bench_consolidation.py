"""Consolidation benchmark: consolidate_window over 10k synthetic chat turns on the embedded stores, no LLM.

    .venv/bin/python benchmarks/bench_consolidation.py [--turns 10000] [--users 50] [--seed 11]

Starts a private embedded stack in a temp dir (hashing embedder, 384 dimensions), stores seeded synthetic
conversations (user and assistant turns from varied templates: names, companies, cities, preferences,
tools, questions, negations, chit-chat) with EpisodicMemory.store_turns, then times one consolidate_window
over the day. The run is broken down into spaCy extraction, graph reads/writes, Postgres and embedding,
timed around the real calls, and the table is written to benchmarks/results/consolidation.md.
"""

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import Timer, embedded_stores

from memory_runtime.batch.consolidate import PAGE_SIZE, consolidate_window
from memory_runtime.domain.models import Turn
from memory_runtime.extraction import extractor_version, make_extractor
from memory_runtime.memory.episodic import EpisodicMemory

RESULTS = Path(__file__).resolve().parent / "results" / "consolidation.md"
COMMAND = ".venv/bin/python benchmarks/bench_consolidation.py"
DAY = datetime(2025, 6, 2, tzinfo=UTC)
NOTES = """Notes. Without the extraction thread (profiled while building this, same data, pages of 1000-5000
turns) a run took 30-45 s (220-330 turns/s): spaCy about 17 s and SemanticMemory writes about 11-17 s
(learn_fact about 2 ms and upsert_entity about 1.5 ms write + 0.5 ms read + an embedding per call). MENTIONS
edges are one UNWIND statement per page and user; entities are upserted once per page and identical claims
of a page are learnt once, so larger pages mean fewer writes. The remaining cost is one statement per fact
and entity inside SemanticMemory; a batched (UNWIND) learn_facts/upsert_entities there is the next step.
The machine is shared: five runs of this version gave 309-598 turns/s (501, 363, 598, 309, 487)."""

FIRST = """Priya Tom Alice Bob Maria Chen Aisha Diego Sofia Liam Noah Emma Olivia Lucas Mia Yuki Omar Fatima
Ivan Elena Jonas Sara Mateo Hana Ravi Leila Marco Anna Pedro Ines Kofi Amara Wei Lena Felix Clara Hugo Nina
Arjun Zoe""".split()
LAST = "Sharma Baker Smith Garcia Chen Khan Rossi Novak Silva Okafor Tanaka Muller Haddad Costa Berg".split()
COMPANIES = """Acme Corp|Globex|Initech|Hooli|Stripe|Siemens|Deloitte|Nimbus Labs|Cyberdyne Systems
|Umbrella Corp|Wayne Enterprises|Stark Industries|Google|Microsoft|Spotify|Zalando|Shopify|Atlassian|Datadog
|Figma|Canva|Monzo|Revolut|Klarna|Booking.com""".replace("\n", "").split("|")
CITIES = """Paris Berlin London Lisbon Madrid Rome Tokyo Toronto Austin Denver Seattle Munich Vienna Prague
Oslo Dublin Amsterdam Barcelona Boston Chicago Sydney Melbourne Singapore Nairobi Lagos Cairo Istanbul Athens
Warsaw Stockholm Helsinki Copenhagen Zurich Geneva Milan Seoul Mumbai Delhi Bangalore""".split()
HOBBIES = """hiking cooking reading running climbing chess photography gardening cycling swimming painting
yoga surfing knitting baking skiing""".split()
FOODS = "sushi ramen tacos pizza curry cilantro olives mushrooms tofu pasta dumplings falafel kimchi".split()
TOOLS = [
    "Vim",
    "VS Code",
    "Neovim",
    "Emacs",
    "PyCharm",
    "Docker",
    "Kubernetes",
    "Terraform",
    "Postgres",
    "Figma",
]
ROLES = [
    "data scientist",
    "software engineer",
    "designer",
    "product manager",
    "nurse",
    "teacher",
    "accountant",
]
KINDS = {
    "color": ["blue", "green", "red", "purple"],
    "band": ["Radiohead", "Coldplay", "Muse", "Blur"],
    "book": ["Dune", "Emma", "Ulysses"],
    "city": CITIES[:8],
}
CHITCHAT = """Thanks, that helps!|Let me think about it.|Can you summarise the last meeting?|ok cool
|What's the weather like tomorrow?|Please remind me to call mom at 3pm.|haha yes exactly
|Could you draft an email to the team about the release?|Sounds good, let's do that.""".replace("\n", "").split("|")


class Persona:
    """One synthetic user: a name, a job, a home, tastes and friends that drift over the day."""

    def __init__(self, rng: random.Random) -> None:
        self.first, self.last = rng.choice(FIRST), rng.choice(LAST)
        self.company, self.city = rng.choice(COMPANIES), rng.choice(CITIES)
        self.role = rng.choice(ROLES)
        self.friends = [(rng.choice(FIRST), rng.choice(COMPANIES), rng.choice(CITIES)) for _ in range(3)]


def user_turn(rng: random.Random, p: Persona) -> str:
    """One user message from a weighted mix of templates."""
    friend, fco, fcity = rng.choice(p.friends)
    kind = rng.choice(list(KINDS))
    if rng.random() < 0.04:
        p.city = rng.choice(CITIES)
        return rng.choice([f"I just moved to {p.city}.", f"Big news: I moved to {p.city} last week."])
    if rng.random() < 0.03:
        p.company = rng.choice(COMPANIES)
        return f"I started a new job, I work at {p.company} now."
    options: list[Callable[[], str]] = [
        lambda: f"Hi, my name is {p.first} {p.last}.",
        lambda: f"My name is {p.first} and I work at {p.company}.",
        lambda: f"I'm a {p.role} at {p.company}.",
        lambda: f"I work for {p.company} as a {p.role}.",
        lambda: f"I live in {p.city}.",
        lambda: f"I'm based in {p.city} these days.",
        lambda: f"I love {rng.choice(HOBBIES)} and {rng.choice(HOBBIES)}.",
        lambda: f"I really enjoy {rng.choice(HOBBIES)} on weekends.",
        lambda: f"I like {rng.choice(FOODS)}.",
        lambda: f"I hate {rng.choice(FOODS)}.",
        lambda: f"I can't stand {rng.choice(FOODS)}.",
        lambda: f"My favorite {kind} is {rng.choice(KINDS[kind])}.",
        lambda: f"I use {rng.choice(TOOLS)} every day.",
        lambda: f"{friend} works at {fco}.",
        lambda: f"My friend {friend} lives in {fcity}.",
        lambda: f"I don't work at {rng.choice(COMPANIES)} anymore.",
        lambda: f"Do you know anything about {rng.choice(CITIES)}?",
        lambda: f"Can you recommend a good restaurant in {p.city}?",
        lambda: f"I'm meeting {friend} in {fcity} on Friday.",
        lambda: f"I think I might move to {rng.choice(CITIES)} next year.",
        lambda: rng.choice(CHITCHAT),
        lambda: rng.choice(CHITCHAT),
    ]
    return rng.choice(options)()


def assistant_turn(rng: random.Random, p: Persona) -> str:
    """One assistant reply."""
    return rng.choice(
        [
            f"Sure! {rng.choice(CITIES)} is a great place to live.",
            f"Noted: you work at {p.company}.",
            f"I recommend trying {rng.choice(FOODS)} in {p.city}.",
            "Here is a short summary of what we discussed.",
            f"I can help with that. {rng.choice(TOOLS)} has a plugin for it.",
            "Got it, I'll remember that.",
        ]
    )


def synthetic_turns(n: int, users: int, seed: int) -> dict[str, list[Turn]]:
    """`n` turns over one day: per user, conversations of 10 alternating user/assistant turns."""
    rng = random.Random(seed)
    personas = {f"user-{u:03d}": Persona(rng) for u in range(users)}
    out: dict[str, list[Turn]] = {u: [] for u in personas}
    per_user = n // users
    for uid, p in personas.items():
        times = sorted(DAY + timedelta(seconds=rng.uniform(0, 86_399)) for _ in range(per_user))
        for i, ts in enumerate(times):
            role = "user" if i % 2 == 0 else "assistant"
            content = user_turn(rng, p) if role == "user" else assistant_turn(rng, p)
            conversation = f"{uid}-c{i // 10}"
            out[uid].append(Turn(conversation_id=conversation, index=i % 10, role=role, content=content, timestamp=ts))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE)
    args = parser.parse_args()
    conversations = synthetic_turns(args.turns, args.users, args.seed)
    n_turns = sum(len(v) for v in conversations.values())
    with embedded_stores(
        "bench-consolidation-", postgres_schema="bench", graph_name="bench", redis_prefix="bench"
    ) as stores:
        settings = stores.settings
        print(f"storing {n_turns} turns of {args.users} users ...", file=sys.stderr)
        started = time.perf_counter()
        for uid, turns in conversations.items():
            episodic = EpisodicMemory(stores, uid, None)
            for b in range(0, len(turns), 500):
                episodic.store_turns(turns[b : b + 500])
        store_s = time.perf_counter() - started
        extractor = make_extractor(settings)
        extractor.extract(["warm-up: I live in Paris."])  # load the spaCy pipeline outside the timing
        timers = {k: Timer() for k in ("extract", "graph_read", "graph_write", "pg", "embed")}
        for name, obj, attr in (
            ("extract", extractor, "extract_turns"),  # what consolidate_window calls
            ("graph_read", stores.graph, "read"),
            ("graph_write", stores.graph, "write"),
            ("pg", stores.pg, "fetch"),
            ("embed", stores.embedder, "embed"),
        ):
            setattr(obj, attr, timers[name].wrap(getattr(obj, attr)))
        print("consolidate_window over the day ...", file=sys.stderr)
        counts = consolidate_window(stores, DAY, DAY + timedelta(days=1), extractor=extractor, page_size=args.page_size)
        spent = {k: (t.total, t.calls) for k, t in timers.items()}  # the re-run is not profiled
        rerun = consolidate_window(stores, DAY, DAY + timedelta(days=1), extractor=make_extractor(settings))
        version = extractor_version(settings)
    seconds = float(counts["duration_s"])
    rate = counts["turns_read"] / seconds
    main_thread = ("graph_write", "graph_read", "embed", "pg")
    rest = seconds - sum(spent[k][0] for k in main_thread)
    summary = [
        ("turns", f"{counts['turns_read']}"),
        ("seconds", f"{seconds:.1f}"),
        ("turns/s", f"{rate:.0f}"),
        ("entities (created / merged)", f"{counts['entities_created']} / {counts['entities_merged']}"),
        (
            "facts (created / reinforced / invalidated)",
            f"{counts['facts_created']} / {counts['facts_reinforced']} / {counts['facts_invalidated']}",
        ),
        ("relations", f"{counts['relations']}"),
        (
            "re-run of the same window (idempotent)",
            f"{rerun['duration_s']:.1f} s, {rerun['facts_created']} facts / "
            f"{rerun['entities_created']} entities / {rerun['relations']} relations written",
        ),
    ]
    breakdown = [
        ("graph writes (upsert_entity, learn_fact, relate, MENTIONS UNWIND)", spent["graph_write"]),
        ("graph reads (upsert_entity resolve, idempotency checks, counts)", spent["graph_read"]),
        ("embedding (hashing + Redis cache)", spent["embed"]),
        ("Postgres reads (turn pages)", spent["pg"]),
        ("rest: Python (resolution, bookkeeping) and waiting for extraction", (rest, "")),
    ]
    lines = [
        "# Consolidation benchmark",
        "",
        f"Command: `{COMMAND}` (--turns {args.turns} --users {args.users} --seed {args.seed} "
        f"--page-size {args.page_size})",
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, embedded stack (PostgreSQL + "
        f"FalkorDB), hashing embedder (384 dims), no LLM. Extractor `{version}`.",
        f"{n_turns} synthetic turns of {args.users} users over one day (half user, half assistant); "
        f"storing them took {store_s:.1f} s.",
        "",
        "| measure | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in summary],
        "",
        "Where the time went (timed around the real calls). spaCy runs in a worker thread on the next page",
        "while the main thread writes the current one, so the two parts overlap:",
        "",
        "| part | seconds | share of the run | calls |",
        "|---|---|---|---|",
        f"| worker: spaCy extraction + rules (tok2vec, parser, ner; n_process=1) | "
        f"{spent['extract'][0]:.1f} | {spent['extract'][0] / seconds:.0%} | {spent['extract'][1]} |",
        *[f"| main: {k} | {total:.1f} | {total / seconds:.0%} | {calls} |" for k, (total, calls) in breakdown],
        "",
        NOTES,
        "",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
