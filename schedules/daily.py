"""Schedules (UTC); also a weekly vector-index compaction. The partitions have `end_offset=1`, so the newest partition
is *today*: schedules that work on a finished day name yesterday themselves instead of using
build_schedule_from_partitioned_job (which would pick today). Each request has a run key, so a tick never runs
twice.
"""

from datetime import UTC, datetime

import dagster as dg

from memory_assets.backups import backup_job
from memory_assets.jobs import lifecycle_job, nightly_consolidation_job, pattern_detection_job
from memory_assets.partitions import day_key, yesterday_key
from memory_assets.upkeep import reindex_job


def _tick_time(context: dg.ScheduleEvaluationContext) -> datetime:
    return context.scheduled_execution_time or datetime.now(UTC)


@dg.schedule(
    name="nightly_consolidation_schedule",
    job=nightly_consolidation_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="03:00 UTC: re-consolidate yesterday's partition (catches turns the sensor missed).",
)
def nightly_consolidation_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Request yesterday's partition."""
    day = yesterday_key(_tick_time(context))
    return dg.RunRequest(partition_key=day, run_key=f"nightly-{day}")


@dg.schedule(
    name="daily_lifecycle_schedule",
    job=lifecycle_job,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="03:30 UTC: decay salience through the end of yesterday, then archive.",
)
def daily_lifecycle_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Request salience_decay and archived_memories for yesterday's partition."""
    day = yesterday_key(_tick_time(context))
    return dg.RunRequest(partition_key=day, run_key=f"lifecycle-{day}")


@dg.schedule(
    name="hourly_pattern_detection_schedule",
    job=pattern_detection_job,
    cron_schedule="15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour at :15: mine strategies from today's tool use.",
)
def hourly_pattern_detection_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Request procedural_strategies for today's partition."""
    moment = _tick_time(context).astimezone(UTC)
    day = day_key(moment)
    return dg.RunRequest(partition_key=day, run_key=f"patterns-{day}T{moment:%H}")


@dg.schedule(
    name="daily_backup_schedule",
    job=backup_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:00 UTC: back up every store (before the nightly runs), keeping the 7 newest backups.",
)
def daily_backup_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """One backup per day."""
    day = day_key(_tick_time(context).astimezone(UTC))
    return dg.RunRequest(run_key=f"backup-{day}")


@dg.schedule(
    name="weekly_vector_compaction_schedule",
    job=reindex_job,
    cron_schedule="30 4 * * 0",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Sundays 04:30 UTC: rebuild degraded vector indexes, and on Neo4j the large ones, which "
    "single-transaction writes split into many Lucene segments (memory_runtime.batch.reindex).",
)
def weekly_vector_compaction_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """One compaction per week."""
    day = day_key(_tick_time(context).astimezone(UTC))
    return dg.RunRequest(
        run_key=f"compact-{day}",
        run_config={"ops": {"reindex_vectors": {"config": {"compact": True}}}},
    )


ALL_SCHEDULES = [
    nightly_consolidation_schedule,
    daily_lifecycle_schedule,
    hourly_pattern_detection_schedule,
    daily_backup_schedule,
    weekly_vector_compaction_schedule,
]
