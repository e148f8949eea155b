"""`new_conversation_sensor`: run `consolidation_job` for each day partition that received new turns.

Cursor: the last `conversation_logs.seq` (ingest order) the sensor is done with. Each tick reads at most
`sensor_max_turns_per_tick` turns after it, in seq order, and requests one run per affected day of turn
time with run key `<day>@<max seq of that day in the tick>`, so a day is re-run only when it got new
turns, and Dagster never starts the same run key twice.

Two guards keep runs from starting on data that is still moving:

* Commit lag: only turns ingested more than `sensor_commit_lag_s` ago are read, and reading stops at the
  first turn that is younger, so the cursor never passes a turn it has not seen. (A transaction holding a
  lower seq can still commit after a higher one was read if it stays open longer than the lag; the
  nightly schedule re-consolidates yesterday, which closes that gap.)
* Debounce: a day whose latest turn (in the whole log, not just this tick) was ingested less than the lag
  ago has a conversation in progress; it is held back. The cursor then stops just before the held day's
  first turn of this tick, and the days requested past that point are remembered in the cursor
  (`{"seq": N, "requested": {day: max_seq}}`) so that re-reading them does not request them again.

Days outside the partitions (before the start date, or after today) are skipped with a log line.
"""

import json
from dataclasses import dataclass, field

import dagster as dg

from memory_assets.jobs import consolidation_job
from memory_assets.partitions import is_partition
from memory_runtime.stores.postgres import PostgresStore
from resources import MemoryStoreResource

TRIGGER_TAG = "memory/trigger"


@dataclass
class TurnCursor:
    """Where the sensor is in the log: last seq done, plus days requested beyond it {day: max seq}."""

    seq: int = 0
    requested: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> "TurnCursor":
        """Read a cursor: a bare seq ("42") or the JSON form; empty means the beginning of the log."""
        if not text:
            return cls()
        text = text.strip()
        if text.isdigit():
            return cls(int(text))
        data = json.loads(text)
        return cls(int(data.get("seq", 0)), {str(k): int(v) for k, v in (data.get("requested") or {}).items()})

    def dump(self) -> str:
        """A bare seq when nothing is remembered beyond it, else JSON."""
        if not self.requested:
            return str(self.seq)
        return json.dumps({"seq": self.seq, "requested": dict(sorted(self.requested.items()))}, sort_keys=True)


@dataclass
class TurnScan:
    """What one tick found: runs to request {day: max seq}, held and skipped days, the next cursor."""

    requests: dict[str, int]
    held: list[str]
    skipped: list[str]
    read: int
    cursor: TurnCursor


def scan_new_turns(pg: PostgresStore, cursor: TurnCursor, lag_s: int, limit: int) -> TurnScan:
    """Read settled turns after the cursor and decide which day partitions to run."""
    rows = pg.fetch(
        """
        SELECT seq, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
               ingested_at < now() - make_interval(secs => %(lag)s) AS settled
          FROM conversation_logs WHERE seq > %(after)s ORDER BY seq LIMIT %(limit)s
        """,
        {"after": cursor.seq, "lag": lag_s, "limit": limit},
    )
    settled = []
    for r in rows:
        if not r["settled"]:
            break  # commit-lag guard: never move past a turn that is too young
        settled.append(r)
    if not settled:
        return TurnScan({}, [], [], 0, cursor)
    first_seq: dict[str, int] = {}
    max_seq: dict[str, int] = {}
    for r in settled:
        first_seq.setdefault(r["day"], r["seq"])
        max_seq[r["day"]] = r["seq"]
    skipped = sorted(d for d in max_seq if not is_partition(d))
    candidates = sorted(d for d in max_seq if d not in skipped)
    busy = {
        r["day"]
        for r in pg.fetch(
            """
            SELECT d AS day FROM unnest(%(days)s::text[]) AS d
              JOIN conversation_logs l
                ON l.created_at >= (d::date::timestamp AT TIME ZONE 'UTC')
               AND l.created_at < ((d::date + 1)::timestamp AT TIME ZONE 'UTC')
             GROUP BY d HAVING max(l.ingested_at) >= now() - make_interval(secs => %(lag)s)
            """,
            {"days": candidates, "lag": lag_s},
        )
    } if candidates else set()  # fmt: skip
    held = sorted(busy)
    last = settled[-1]["seq"]
    done_through = min(first_seq[d] for d in held) - 1 if held else last
    requests = {d: max_seq[d] for d in candidates if d not in busy and cursor.requested.get(d) != max_seq[d]}
    remembered = {**cursor.requested, **requests}
    following = TurnCursor(
        max(cursor.seq, done_through),
        {d: s for d, s in remembered.items() if s > max(cursor.seq, done_through) and d not in busy},
    )
    return TurnScan(requests, held, skipped, len(settled), following)


@dg.sensor(
    name="new_conversation_sensor",
    job=consolidation_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Requests consolidation_job (episodic_graph, semantic_memory, memory_timeline) for every day "
        "partition with new settled turns in Postgres; cursor = last conversation_logs.seq."
    ),
)
def new_conversation_sensor(
    context: dg.SensorEvaluationContext, memory: MemoryStoreResource
) -> dg.SensorResult | dg.SkipReason:
    """One tick: scan the log after the cursor and request runs for the affected days."""
    settings = memory.settings
    cursor = TurnCursor.parse(context.cursor)
    scan = scan_new_turns(memory.stores.pg, cursor, settings.sensor_commit_lag_s, settings.sensor_max_turns_per_tick)
    if scan.skipped:
        context.log.warning(f"turns on days outside the partitions were not scheduled: {', '.join(scan.skipped)}")
    if scan.held:
        context.log.info(f"conversations still in progress on {', '.join(scan.held)}; holding those days back")
    runs = [
        dg.RunRequest(
            partition_key=day,
            run_key=f"{day}@{seq}",
            tags={TRIGGER_TAG: "new_conversation_sensor"},
        )
        for day, seq in sorted(scan.requests.items())
    ]
    new_cursor = scan.cursor.dump()
    if not runs:
        reason = f"no new settled turns after seq {cursor.seq}" if not scan.read else "no day ready to run"
        if new_cursor == (context.cursor or "0"):
            return dg.SkipReason(reason)
        return dg.SensorResult(skip_reason=reason, cursor=new_cursor)
    return dg.SensorResult(run_requests=runs, cursor=new_cursor)
