"""What the Dagster side observes of the turn log: a window's counts, and the new turns after a sensor cursor.

`observe_window` is the `conversation_turns` asset (counts only, writes nothing). `scan_new_turns` is one
tick of the new-conversation sensor. Its cursor is the last `conversation_logs.seq` (ingest order) done;
each scan reads at most `limit` turns after it, in seq order, and decides which day partitions to run,
each with the max seq of that day in the scan (the sensor's run key is `<day>@<seq>`).

Two guards keep runs from starting on data that is still moving:

* Commit lag: only turns ingested more than `lag_s` ago are read, and reading stops at the first turn
  that is younger, so the cursor never passes a turn it has not seen. (A transaction holding a lower seq
  can still commit after a higher one was read if it stays open longer than the lag; the nightly
  re-consolidation of yesterday closes that gap.)
* Debounce: a day whose latest turn (in the whole log, not just this scan) was ingested less than the lag
  ago has a conversation in progress; it is held back. The cursor then stops just before the held day's
  first turn of this scan, and the days requested past that point are remembered in the cursor
  (`{"seq": N, "requested": {day: max_seq}}`) so that re-reading them does not request them again.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.postgres import turn_log


@dataclass(frozen=True)
class TurnLogReport:
    """The turn log of a window: totals, max seq, and turns / conversations / users per UTC day."""

    turns: int
    conversations: int
    users: int
    archived_turns: int
    tool_invocations: int
    max_seq: int
    per_day: list[dict[str, Any]]

    @property
    def data_version(self) -> str:
        """Changes whenever turns are added to the window: '<turns>@<max seq>'."""
        return f"{self.turns}@{self.max_seq}"


def observe_window(stores: Stores, start: datetime, end: datetime) -> TurnLogReport:
    """Count the turns, conversations, users and tool calls of [start, end) in the system of record."""
    totals = turn_log.window_totals(stores.pg, start, end)
    return TurnLogReport(
        turns=int(totals["turns"]),
        conversations=int(totals["conversations"]),
        users=int(totals["users"]),
        archived_turns=int(totals["archived"]),
        tool_invocations=int(turn_log.tool_invocation_count(stores.pg, start, end)),
        max_seq=int(totals["max_seq"]),
        per_day=turn_log.daily_counts(stores.pg, start, end),
    )


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
    """What one scan found: runs to request {day: max seq}, held and skipped days, the next cursor."""

    requests: dict[str, int]
    held: list[str]
    skipped: list[str]
    read: int
    cursor: TurnCursor


def scan_new_turns(
    stores: Stores, cursor: TurnCursor, lag_s: int, limit: int, is_partition: Callable[[str], bool]
) -> TurnScan:
    """Read settled turns after the cursor and decide which day partitions to run (days `is_partition`
    refuses are skipped)."""
    rows = turn_log.turns_after_seq(stores.pg, cursor.seq, lag_s, limit)
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
    busy = turn_log.days_ingested_recently(stores.pg, candidates, lag_s) if candidates else set()
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
