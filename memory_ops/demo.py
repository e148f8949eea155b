"""`agent-memory demo`: store a short multi-session conversation, then show what remember() returns."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from memory_runtime.config import Settings
from memory_runtime.domain.models import Entity, Goal, Turn

USER = "demo-user"
_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

SESSIONS: list[tuple[str, timedelta, list[tuple[str, str]]]] = [
    (
        "demo-session-1",
        timedelta(days=0),
        [
            ("user", "Hi! I'm Priya, I work at Acme Corp in Berlin on the data platform team."),
            ("assistant", "Nice to meet you, Priya. What are you working on at Acme?"),
            (
                "user",
                "Our Python ingestion service is too slow; I am thinking of rewriting the parser in Cython.",
            ),
            (
                "assistant",
                "Cython is a good fit for a tight parsing loop: typed memoryviews avoid Python overhead.",
            ),
            ("user", "I prefer short answers with code examples, by the way."),
        ],
    ),
    (
        "demo-session-2",
        timedelta(days=9, hours=5),
        [
            ("user", "Back again. The Cython parser is 6x faster, but the build breaks on our ARM runners."),
            (
                "assistant",
                "Build wheels with cibuildwheel so each architecture gets its own compiled extension.",
            ),
            ("user", "Good idea. My manager Tom wants the ARM wheels before the Q2 release."),
            (
                "assistant",
                "Then add an aarch64 job to the CI matrix and publish the wheels from the release tag.",
            ),
        ],
    ),
    (
        "demo-session-3",
        timedelta(days=23, hours=2),
        [
            ("user", "Quick update: I moved from Berlin to Lisbon last week, still at Acme remotely."),
            ("assistant", "Congratulations on the move! Does the time zone change anything for the release?"),
            ("user", "No, Tom is flexible. Can you remind me what we decided about the ARM build?"),
        ],
    ),
]

QUERIES = [
    "What did we decide about the Cython build on ARM?",
    "Where does Priya live?",
    "How should I format my answers for this user?",
]


def sample_turns() -> list[Turn]:
    """The demo conversation as turns with their original timestamps."""
    turns = []
    for conv, offset, lines in SESSIONS:
        for i, (role, content) in enumerate(lines):
            stamp = _START + offset + timedelta(minutes=2 * i)
            turns.append(Turn(conversation_id=conv, index=i, role=role, content=content, timestamp=stamp))
    return turns


def _print_bundle(bundle) -> None:  # MemoryBundle
    print(f"\n=== remember({bundle.query!r})  [{bundle.timings_ms.get('total', 0):.1f} ms]")
    for t in bundle.relevant_turns[:4]:
        when = t["timestamp"].strftime("%Y-%m-%d") if t.get("timestamp") else "?"
        print(f"  turn  {t['score']:.3f} {'+'.join(t['found_by']):<20} {when} {t['role']}: {t['content'][:80]}")
    for f in bundle.facts[:3]:
        found = "+".join(f["found_by"])
        print(f"  fact  {f['score']:.3f} {found:<20} {f['claim']} (conf {f['confidence']:.2f})")
    for e in bundle.entities[:3]:
        print(f"  ent   {e['score']:.3f} {'+'.join(e['found_by']):<20} {e['name']} ({e['type']})")


SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "conversations.jsonl"
SAMPLE_QUERIES = [
    ("maya", "Where does Maya live and work?", None),
    ("maya", "Where does Maya live and work?", datetime(2026, 8, 20, tzinfo=UTC)),
]


def recall_sample(settings: Settings) -> None:
    """What remember() returns from the imported and consolidated sample history, now and as of a past day."""
    from memory_runtime.api import AgentMemory
    from memory_runtime.stores.bundle import Stores

    with Stores.open(settings) as stores:
        for user, query, as_of in SAMPLE_QUERIES:
            with AgentMemory(user, stores=stores) as memory:
                bundle = memory.remember(query, top_k=5, as_of=as_of)
            when = f" as_of {as_of:%Y-%m-%d}" if as_of else ""
            print(f"\n=== {user}: remember({query!r}){when}")
            for f in bundle.facts[:4]:
                valid = f"valid {f['valid_at']:%Y-%m-%d}" + (
                    f"..{f['invalid_at']:%Y-%m-%d}" if f["invalid_at"] else ".."
                )
                print(
                    f"  fact  {f['claim']:<40} {valid:<24} from turns {', '.join(t[:8] for t in f['source_turn_ids'])}"
                )
            for t in bundle.relevant_turns[:3]:
                print(f"  turn  {t['timestamp']:%Y-%m-%d} {t['role']}: {t['content'][:90]}")


def run_tour(settings: Settings) -> None:
    """The API tour against the stores in `settings` (migrating first); prints the bundles."""
    from memory_runtime.api import AgentMemory
    from memory_runtime.stores.bundle import Stores
    from memory_runtime.stores.migrations import migrate

    with Stores.open(settings) as stores:
        migrate(stores.pg, stores.graph, settings.embedding_dimensions, stores.embedder.inner)
        with AgentMemory(USER, "demo-session-3", stores=stores) as memory:
            memory.forget_user()  # the demo starts from a clean slate every time
            result = memory.store_turns(sample_turns())
            print(f"stored {result.inserted} turns in {len(SESSIONS)} sessions for {USER!r}")
            priya = memory.upsert_entity(Entity(name="Priya", type="Person", description="the user")).id
            acme = memory.upsert_entity(Entity(name="Acme Corp", type="Organization", aliases=["Acme"])).id
            berlin = memory.upsert_entity(Entity(name="Berlin", type="Location")).id
            lisbon = memory.upsert_entity(Entity(name="Lisbon", type="Location")).id
            memory.relate(priya, acme, "WORKS_FOR")
            t1 = sample_turns()[0].id
            memory.learn_fact("Priya lives in Berlin", entity_ids=[priya, berlin], source_turn_id=t1,
                              subject="Priya", predicate="lives_in", object="Berlin",
                              valid_at=_START)  # fmt: skip
            moved = [t for t in sample_turns() if "moved" in t.content][0]
            memory.learn_fact("Priya lives in Lisbon", entity_ids=[priya, lisbon], source_turn_id=moved.id,
                              subject="Priya", predicate="lives_in", object="Lisbon",
                              valid_at=moved.timestamp)  # fmt: skip
            memory.set_preference("answer_style", "short answers with code examples")
            memory.add_goal(Goal(description="Ship ARM wheels before the Q2 release", priority=4))
            for query in QUERIES:
                _print_bundle(memory.remember(query, top_k=5))
            past = memory.remember("Where does Priya live?", as_of=_START + timedelta(days=10))
            print("\n=== as_of 10 days in: " + "; ".join(f["claim"] for f in past.facts[:1]))
            print("\n=== to_context_string(max_tokens=300):\n")
            print(memory.remember(QUERIES[0], top_k=5).to_context_string(max_tokens=300))
