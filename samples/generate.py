# ruff: noqa: E501  (dialogue lines are data)
"""Generate samples/conversations.jsonl: seven weeks of two users' conversations with an assistant.

    python samples/generate.py                      # rewrites samples/conversations.jsonl (deterministic)
    python samples/generate.py --end-date 2027-03-31 --out /tmp/conversations.jsonl

Written for the import/backfill demo (`agent-memory import samples/conversations.jsonl --users-from-records
--backfill`). Every record is one turn in the `jsonl` import format, with its user_id:

* maya (Maya Chen, a data engineer): lives in Berlin and works at Acme Corp, interviews at Globex, takes
  the job, then moves to Lisbon, so consolidation finds facts and two contradictions (works_for,
  lives_in) that invalidate the older facts; preferences (short answers with code, Neovim, climbing),
  people (Tom Becker, Ana Ribeiro) and tools (Kafka, Postgres, Dagster, dbt) recur across weeks.
* sam (Sam Okafor, a PhD student in Toronto): a Rust side project, a thesis deadline, then a job at
  Shopify, so a second user's memories exist next to maya's (and must never leak into hers).

The dialogue is written by hand per conversation; a seeded RNG only picks filler exchanges from each
topic's pool and the seconds between turns, so the output is the same on every run. Dates are fixed
(END_DATE) so the file is reproducible; pass --end-date to shift the whole history (e.g. to keep it inside
MEMORY_RETENTION_DAYS of today when the daily archival schedule runs).
"""

import argparse
import json
import random
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parent / "conversations.jsonl"
END_DATE = date(2026, 9, 18)  # the last conversation's day; the history starts 46 days earlier
SEED = 7

# Filler exchanges per topic: (user, assistant). A few are appended to a conversation to give it length.
FILLERS: dict[str, list[tuple[str, str]]] = {
    "kafka": [
        (
            "How many partitions should the orders topic have?",
            "Start with 12: it matches your consumer count and leaves room to scale without re-keying.",
        ),
        (
            "Is exactly-once worth it for us?",
            "Only if duplicates are expensive downstream; idempotent upserts in Postgres are usually enough.",
        ),
        (
            "What retention do you suggest?",
            "Seven days on the raw topic and compacted topics for the latest state per key.",
        ),
        (
            "The consumer lag spikes every night.",
            "That lines up with the nightly batch export; give it its own consumer group and throttle it.",
        ),
        (
            "Should we use Avro or JSON?",
            "Avro with a schema registry: schema changes become explicit and consumers fail early.",
        ),
        (
            "How do I monitor consumer lag?",
            "Export the lag per partition to Prometheus and alert on the trend, not a single spike.",
        ),
        (
            "Can I replay a day of events?",
            "Reset the consumer group offsets to a timestamp and make the sink idempotent first.",
        ),
    ],
    "postgres": [
        (
            "The ingest table is 400 GB now.",
            "Partition it by month and add a BRIN index on the event time; old partitions can be detached.",
        ),
        ("Vacuum can't keep up.", "Lower autovacuum_vacuum_scale_factor on that table and raise the cost limit."),
        ("Is COPY faster than batched inserts?", "Yes, binary COPY is typically 5-10x faster for bulk loads."),
        ("How do I find slow queries?", "Enable pg_stat_statements and sort by total_exec_time."),
        ("Should we upgrade to Postgres 17?", "Yes, logical replication makes the upgrade nearly zero-downtime."),
        (
            "Is a GIN index right for JSONB filters?",
            "Yes, jsonb_path_ops is smaller and faster if you only use containment queries.",
        ),
        (
            "How many connections can Postgres take?",
            "Keep it in the low hundreds and put PgBouncer in front for the rest.",
        ),
    ],
    "orchestration": [
        (
            "Can Dagster backfill a month of partitions?",
            "Yes: daily partitions plus a single-run backfill policy run the month as one job.",
        ),
        ("How do we test assets?", "Call materialize() in pytest with test resources; no daemon needed."),
        ("What about sensors?", "Use a cursor and run keys so a sensor never requests the same partition twice."),
        (
            "Is the UI useful for on-call?",
            "Very: asset lineage shows what is stale and which run produced a partition.",
        ),
        ("How do retries work?", "Set a retry policy on the asset; failed partitions can be re-run from the UI."),
        ("Can I run it locally?", "dagster dev starts the UI and the daemon on your laptop in a few seconds."),
    ],
    "climbing": [
        ("Any tips for overhangs?", "Keep your hips close to the wall and use your feet more than you think."),
        ("My forearms get pumped fast.", "Shake out on good holds and breathe; endurance circuits twice a week help."),
        ("Should I buy my own rope?", "A 60 m dynamic rope covers almost every gym and most sport crags."),
        ("How often should I train?", "Three sessions a week with a rest day in between is plenty to progress."),
        (
            "My fingers hurt after crimpy routes.",
            "Take a week off crimps and tape nothing; see a physio if it persists.",
        ),
    ],
    "career": [
        (
            "How do I prepare for the system design round?",
            "Pick two systems you built, and practise explaining trade-offs out loud.",
        ),
        ("Should I ask about on-call?", "Yes: ask how often, how paged, and what happened in the last incident."),
        ("How do I negotiate the offer?", "Anchor on the market range, and ask for the total package in writing."),
        ("What should I do in my first month?", "Meet every team you depend on and ship one small change in week one."),
        (
            "How do I tell my manager I'm leaving?",
            "In person, first, before anyone else, with a proposed handover plan.",
        ),
    ],
    "relocation": [
        (
            "Do I need a NIF in Portugal?",
            "Yes, the tax number is needed for a lease, a bank account and most contracts.",
        ),
        (
            "Which neighbourhood is good for cyclists?",
            "Parque das Nações is flat and has long bike lanes along the river.",
        ),
        ("How long does shipping furniture take?", "Usually two to three weeks by road from Berlin."),
        (
            "Any advice on learning Portuguese fast?",
            "Take a daily 30-minute class and switch your phone to Portuguese.",
        ),
    ],
    "dbt": [
        ("Should models be views or tables?", "Start as views; materialise as incremental tables when they get slow."),
        ("How do I test dbt models?", "Add unique and not_null tests on keys and a few accepted_values tests."),
        ("How do we deploy dbt?", "Run it from the orchestrator so lineage and retries live in one place."),
        ("How do we document models?", "Descriptions in the YAML next to each model, and dbt docs generate in CI."),
        ("Should we use snapshots?", "Yes for slowly changing dimensions such as customer addresses."),
    ],
    "rust": [
        (
            "Why does the borrow checker reject this loop?",
            "You hold an immutable borrow while pushing; collect the indices first.",
        ),
        ("Should I use tokio or async-std?", "Tokio: it has the larger ecosystem and better tracing support."),
        ("How do I speed up compile times?", "Use cargo check while iterating and split the crate into a workspace."),
        ("Is serde fast enough for 1 GB files?", "Yes with a streaming deserializer; avoid building one giant Vec."),
    ],
    "thesis": [
        ("How long should the related-work chapter be?", "Around 15 pages: group papers by idea, not by year."),
        (
            "My advisor wants more experiments.",
            "Agree on the two that answer the open question; more is rarely better.",
        ),
        ("How do I stop procrastinating on writing?", "Write 300 words every morning before email, however rough."),
        ("How do I make plots look consistent?", "One matplotlib style file for the whole thesis, and vector PDFs."),
    ],
    "music": [
        (
            "Any jazz albums like Kind of Blue?",
            "Try Bill Evans' Sunday at the Village Vanguard and Coltrane's Ballads.",
        ),
        ("Where can I hear live jazz in Toronto?", "The Rex Hotel has sets every night and it's cheap."),
        ("Who should I listen to after Miles Davis?", "Herbie Hancock's Maiden Voyage is a natural next step."),
    ],
}

# (user, day offset, start "HH:MM", conversation slug, topic for fillers, number of fillers, scripted turns)
# Scripted turns alternate user / assistant, starting with the user.
CONVERSATIONS: list[tuple[str, int, str, str, str, int, list[str]]] = [
    (
        "maya",
        0,
        "09:12",
        "intro",
        "kafka",
        3,
        [
            "Hi! My name is Maya Chen. I live in Berlin and I work at Acme Corp as a data engineer.",
            "Nice to meet you, Maya. What are you working on at Acme Corp?",
            "I'm building the Kafka pipeline that feeds our order analytics. I use Python and Postgres every day.",
            "A Kafka-to-Postgres pipeline in Python is a solid stack. Where does it hurt right now?",
            "Mostly the consumers fall behind when traffic spikes on Fridays.",
            "Then scale the consumer group to the partition count and batch the writes with COPY.",
            "By the way, I prefer short answers with code examples.",
            "Noted: short answers with code from now on.",
        ],
    ),
    (
        "maya",
        1,
        "14:40",
        "postgres-bloat",
        "postgres",
        3,
        [
            "Our orders table in Postgres keeps bloating. Autovacuum runs but it never catches up.",
            "Check n_dead_tup in pg_stat_user_tables; for hot tables lower autovacuum_vacuum_scale_factor to 0.01.",
            "It's at 40 million dead tuples.",
            "Run a manual VACUUM (VERBOSE) tonight, then tune the per-table settings so it stays small.",
        ],
    ),
    (
        "maya",
        3,
        "19:05",
        "weekend-climbing",
        "climbing",
        3,
        [
            "Completely different topic: I love climbing and I go bouldering every Saturday.",
            "That's a great counterweight to pipeline debugging. Indoor or outdoor?",
            "Mostly indoor at Berta Block in Berlin, but I want to try Frankenjura this autumn.",
            "Frankenjura has thousands of sport routes; the grades are stiff, so start a grade lower.",
        ],
    ),
    (
        "maya",
        6,
        "10:20",
        "manager-sync",
        "kafka",
        3,
        [
            "Tom Becker works at Acme Corp. He is my manager and he wants exactly-once delivery by October.",
            "Exactly-once with Kafka needs idempotent producers and transactional writes end to end.",
            "Our sink is Postgres, so I was thinking of upserts keyed by order id instead.",
            "That gives you effectively-once: duplicates collapse on the primary key. Much simpler to run.",
            "Great, I'll pitch that to Tom on Monday.",
            "Bring the failure cases: a crash after the write but before the offset commit is the one he'll ask about.",
        ],
    ),
    (
        "maya",
        8,
        "11:00",
        "editor",
        "postgres",
        1,
        [
            "My favorite editor is Neovim. Can you give me a config snippet for a SQL language server?",
            "Sure: add sqls to your lspconfig setup and point it at the Postgres connection string.",
            "Short version please, like I said I prefer code examples.",
            "require('lspconfig').sqls.setup{ settings = { sqls = { connections = { { driver = 'postgresql', dataSourceName = os.getenv('PG_DSN') } } } } }",
        ],
    ),
    (
        "maya",
        10,
        "16:30",
        "dagster-eval",
        "orchestration",
        3,
        [
            "We use Airflow at Acme Corp but I want to evaluate Dagster for the analytics jobs.",
            "Dagster's asset model fits analytics well: each table is an asset with lineage and partitions.",
            "I dislike writing YAML, is there a lot of it?",
            "Very little: definitions are Python, and only the instance config is YAML.",
            "Perfect. I'll prototype the orders pipeline as assets this week.",
            "Start with one daily-partitioned asset and a sensor on the Kafka offsets.",
        ],
    ),
    (
        "maya",
        13,
        "20:15",
        "cat",
        "climbing",
        1,
        [
            "My cat Miso knocked my laptop off the desk during a deploy, ha.",
            "Hopefully the deploy survived better than the laptop. Is Miso a climber too?",
            "She climbs everything except the scratching post I bought her.",
            "Classic cat. Put the post next to the desk; cats prefer to scratch where they hang out.",
        ],
    ),
    (
        "maya",
        15,
        "08:45",
        "interview-prep",
        "career",
        3,
        [
            "I have an interview with Globex next week for a senior data engineer role.",
            "Congratulations! What does the role involve?",
            "Building their lakehouse on Snowflake and dbt, and leading two junior engineers.",
            "Prepare a story about mentoring and one about a pipeline you made reliable, like the Kafka consumers.",
            "Good idea, the exactly-once discussion with Tom is a perfect example.",
            "Yes: it shows you trade theoretical guarantees for operational simplicity, which lead roles need.",
        ],
    ),
    (
        "maya",
        18,
        "17:50",
        "interview-debrief",
        "career",
        3,
        [
            "The Globex interview went really well. The team is in Lisbon and they offer relocation.",
            "That's exciting. Would you move to Lisbon?",
            "I think I might. The climbing in Portugal is great and Berlin winters are long.",
            "Sintra has granite bouldering 40 minutes from Lisbon, so you'd keep your Saturdays.",
        ],
    ),
    (
        "maya",
        21,
        "09:30",
        "offer",
        "career",
        3,
        [
            "I accepted the offer from Globex! I start on the first of next month.",
            "Congratulations, Maya! How did Tom take it?",
            "He was kind about it. I'll hand over the Kafka pipeline to Jonas before I leave Acme Corp.",
            "Write a runbook for the consumer lag alerts first; that's what Jonas will be paged for.",
        ],
    ),
    (
        "maya",
        24,
        "13:10",
        "handover",
        "kafka",
        3,
        [
            "Can you help me outline the handover document for the Kafka pipeline?",
            "Sections: architecture, topics and schemas, consumer groups, alerts and runbooks, known issues.",
            "Known issues: Friday lag, the nightly export, and the Avro schema for refunds is still JSON.",
            "Put each with its symptom, the dashboard that shows it, and the fix that worked last time.",
        ],
    ),
    (
        "maya",
        28,
        "10:05",
        "first-day",
        "dbt",
        3,
        [
            "First week done: I work at Globex now, on the data platform team.",
            "How is it going so far?",
            "Good. My new manager Ana Ribeiro works at Globex too, obviously, and she wants a dbt style guide.",
            "Start the style guide with naming: stg_ for staging, int_ for intermediate, fct_ and dim_ for marts.",
            "I use Snowflake and dbt now instead of Postgres and Airflow.",
            "Then put tests on every primary key from day one; Snowflake won't enforce them for you.",
        ],
    ),
    (
        "maya",
        31,
        "18:20",
        "moving",
        "relocation",
        3,
        [
            "Big news: I moved to Lisbon last weekend. The flat is in Alcântara, near the river.",
            "Welcome to Lisbon! How is the move going?",
            "Boxes everywhere, but Miso already found the sunniest window.",
            "Cats adapt fast. Do you have your NIF and a Portuguese bank account yet?",
            "The NIF yes, the bank account is next week.",
            "Then book the Finanças appointment for your tax residency too, the wait can be a few weeks.",
        ],
    ),
    (
        "maya",
        34,
        "12:00",
        "snowflake-costs",
        "dbt",
        3,
        [
            "Our Snowflake bill jumped 30 percent this month.",
            "Check which warehouses run longest: usually an incremental model that became a full refresh.",
            "It was a dbt model without an incremental filter, scanning the whole events table daily.",
            "Add the is_incremental() filter on the load timestamp and the cost should drop back.",
        ],
    ),
    (
        "maya",
        38,
        "19:40",
        "climbing-lisbon",
        "climbing",
        3,
        [
            "I found a climbing gym in Lisbon, Vertigo Climbing Center. I go on Saturdays again.",
            "Great to keep the routine. Have you tried Sintra yet?",
            "Next month with people from the gym.",
            "Bring a crash pad; the landings in Sintra are uneven.",
        ],
    ),
    (
        "maya",
        42,
        "09:15",
        "portuguese",
        "relocation",
        3,
        [
            "I'm learning Portuguese. Can you quiz me on numbers?",
            "Sure, how do you say 23 in Portuguese?",
            "Vinte e três.",
            "Correct! And 58?",
            "Cinquenta e oito.",
            "Perfeito. Your numbers are solid; next time we can do the past tense.",
        ],
    ),
    (
        "maya",
        45,
        "15:25",
        "recap",
        "orchestration",
        3,
        [
            "Can you remind me what we decided about exactly-once at Acme Corp back then?",
            "You chose upserts keyed by order id in Postgres instead of Kafka transactions: effectively-once.",
            "Right. I want to use the same idea for the Snowflake loads at Globex.",
            "It carries over: MERGE on the natural key makes replays harmless.",
        ],
    ),
    (
        "maya",
        26,
        "21:10",
        "farewell",
        "career",
        3,
        [
            "Last day at Acme Corp today. The team took me out for dinner.",
            "That sounds lovely. How do you feel?",
            "Sad to leave Tom and the team, but excited about Globex and Lisbon.",
            "That mix is normal. Keep in touch with Tom; former managers make the best references.",
        ],
    ),
    (
        "maya",
        36,
        "11:35",
        "dbt-style-guide",
        "dbt",
        3,
        [
            "Ana Ribeiro asked me to present the dbt style guide on Friday.",
            "Nice. Keep it to naming, testing and one example model the team can copy.",
            "Short answers with code please: show me an incremental model skeleton.",
            "{{ config(materialized='incremental', unique_key='order_id') }} select * from {{ ref('stg_orders') }} {% if is_incremental() %} where loaded_at > (select max(loaded_at) from {{ this }}) {% endif %}",
        ],
    ),
    (
        "maya",
        44,
        "17:05",
        "sintra-trip",
        "climbing",
        3,
        [
            "We went bouldering in Sintra on Saturday. The granite is so rough on the skin!",
            "Sintra granite is famous for that. Did you send anything?",
            "Two problems at my grade, and I fell off the top of a third one ten times.",
            "That's a great first day there. Tape your fingertips next time and bring a brush.",
        ],
    ),
    # ---- sam -------------------------------------------------------------------------------------------
    (
        "sam",
        2,
        "22:10",
        "intro",
        "rust",
        3,
        [
            "Hey, I'm Sam Okafor. I'm a PhD student and I live in Toronto.",
            "Hi Sam! What is your PhD about?",
            "Distributed databases. I work at the University of Toronto in the systems lab.",
            "A great lab for that. How can I help today?",
            "I'm writing a log-structured storage engine in Rust as a side project.",
            "A fun project. Start with the write-ahead log and a memtable; compaction can wait.",
        ],
    ),
    (
        "sam",
        5,
        "23:30",
        "borrow-checker",
        "rust",
        3,
        [
            "The borrow checker hates my memtable iterator.",
            "Return an iterator that borrows the map, and don't mutate the memtable while it's alive.",
            "Got it, I was flushing during iteration.",
            "Freeze the memtable first, then flush the frozen copy in the background.",
        ],
    ),
    (
        "sam",
        9,
        "21:00",
        "jazz",
        "music",
        3,
        [
            "I love jazz, especially Miles Davis. I write better with music on.",
            "Kind of Blue is the classic writing album: calm and steady.",
            "That's literally on repeat right now.",
            "Then add A Love Supreme for the afternoons.",
        ],
    ),
    (
        "sam",
        14,
        "20:45",
        "thesis-plan",
        "thesis",
        3,
        [
            "My thesis deadline is in April and I'm behind on chapter three.",
            "What does chapter three cover?",
            "The evaluation of the compaction scheduler on real traces.",
            "Then fix the traces and the baselines this week, and write the method section while runs finish.",
        ],
    ),
    (
        "sam",
        22,
        "10:30",
        "internship",
        "career",
        3,
        [
            "Shopify offered me a part-time role on their storage team.",
            "Congratulations! Can you combine it with the thesis?",
            "They're fine with 20 hours a week until I defend.",
            "Block the mornings for writing then, and do Shopify work in the afternoons.",
        ],
    ),
    (
        "sam",
        30,
        "18:00",
        "new-job",
        "rust",
        3,
        [
            "Update: I work for Shopify now, on the storage team, still part time.",
            "How is it going?",
            "Great, they use Rust for a new caching layer, so my side project helped.",
            "That's a nice overlap. Keep your storage engine as a portfolio project.",
        ],
    ),
    (
        "sam",
        11,
        "16:20",
        "benchmarks",
        "rust",
        3,
        [
            "My storage engine does 200k writes per second on my laptop.",
            "Impressive. Is that with fsync on every write?",
            "No, group commit every 10 milliseconds.",
            "Then say so in the README; readers will compare it with fsync-per-write numbers.",
        ],
    ),
    (
        "sam",
        26,
        "09:40",
        "advisor-meeting",
        "thesis",
        3,
        [
            "My advisor Professor Lin wants the defense in May instead of April.",
            "More time for chapter three, then. Does Shopify mind?",
            "No, they're flexible as long as I keep my hours.",
            "Then use the extra month for the experiments your advisor asked for.",
        ],
    ),
    (
        "sam",
        40,
        "22:50",
        "chapter-three",
        "thesis",
        3,
        [
            "Chapter three draft is done! Eighteen pages.",
            "Well done. Send it to your advisor with two questions you want answered.",
            "Good idea, otherwise I get vague feedback.",
            "Exactly: specific questions get specific answers.",
        ],
    ),
]


def build(end_date: date, seed: int = SEED) -> list[dict]:
    """All turn records, ordered by time, for a history ending on `end_date`."""
    rng = random.Random(seed)
    start_day = end_date - timedelta(days=max(c[1] for c in CONVERSATIONS))
    records: list[dict] = []
    for user, offset, clock, slug, topic, fillers, script in CONVERSATIONS:
        day = start_day + timedelta(days=offset)
        hour, minute = map(int, clock.split(":"))
        moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        conv_id = f"{user}-{day.isoformat()}-{slug}"
        lines = list(script)
        for question, answer in rng.sample(FILLERS[topic], k=min(fillers, len(FILLERS[topic]))):
            lines += [question, answer]
        for index, content in enumerate(lines):
            role = "user" if index % 2 == 0 else "assistant"
            records.append(
                {
                    "conversation_id": conv_id,
                    "index": index,
                    "role": role,
                    "content": content,
                    "timestamp": moment.isoformat().replace("+00:00", "Z"),
                    "user_id": user,
                    "metadata": {"topic": topic, "channel": "chat"},
                }
            )
            moment += timedelta(seconds=rng.randint(20, 180) if role == "user" else rng.randint(3, 25))
    records.sort(key=lambda r: (r["timestamp"], r["conversation_id"], r["index"]))
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"output file (default {OUT})")
    parser.add_argument("--end-date", type=date.fromisoformat, default=END_DATE, help="day of the last conversation")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    records = build(args.end_date, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    users = sorted({r["user_id"] for r in records})
    convs = {r["conversation_id"] for r in records}
    first, last = records[0]["timestamp"][:10], records[-1]["timestamp"][:10]
    print(
        f"wrote {len(records)} turns, {len(convs)} conversations, users {', '.join(users)}, {first}..{last} to {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
