"""`new_conversation_sensor`: run `consolidation_job` for each day partition that received new turns.

Cursor: the last `conversation_logs.seq` (ingest order) the sensor is done with. Each tick reads at most
`sensor_max_turns_per_tick` turns after it, in seq order, and requests one run per affected day of turn
time with run key `<day>@<max seq of that day in the tick>`, so a day is re-run only when it got new
turns, and Dagster never starts the same run key twice.

What a tick reads and which days it holds back is `memory_runtime.batch.turn_log.scan_new_turns`: a
commit-lag guard (only turns ingested more than `sensor_commit_lag_s` ago; the nightly schedule closes the
gap a very long transaction can leave) and a debounce (a day with a conversation still in progress waits).
Days outside the partitions (before the start date, or after today) are skipped with a log line.
"""

import dagster as dg

from memory_assets.jobs import consolidation_job
from memory_assets.partitions import is_partition
from memory_runtime.batch.turn_log import TurnCursor, TurnScan, scan_new_turns
from resources import MemoryStoreResource

TRIGGER_TAG = "memory/trigger"

__all__ = ["TRIGGER_TAG", "TurnCursor", "TurnScan", "new_conversation_sensor"]


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
    scan = scan_new_turns(
        memory.stores, cursor, settings.sensor_commit_lag_s, settings.sensor_max_turns_per_tick, is_partition
    )
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
