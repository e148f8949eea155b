"""The daily backup job and schedule: the job writes a complete backup and applies retention."""

import time

import dagster as dg
from dagster_helpers import DAY_START, store_conversation

from memory_assets.backups import backup_job
from memory_runtime.batch.backup import backups_in
from memory_runtime.batch.backup_format import read_manifest
from schedules import ALL_SCHEDULES


def test_the_backup_job_writes_a_backup_and_keeps_the_newest(stores, memory, instance, tmp_path):
    store_conversation(stores, "u1", "c1", DAY_START, ["I moved to Lisbon.", "How is Lisbon?"])
    config = {"ops": {"backup_stores": {"config": {"root": str(tmp_path), "keep": 1}}}}
    for _ in range(2):
        result = backup_job.execute_in_process(run_config=config, resources={"memory": memory}, instance=instance)
        assert result.success
        time.sleep(1.1)  # backup directories are named to the second
    [kept] = backups_in(tmp_path)  # retention removed the first one
    assert read_manifest(kept).postgres.tables["conversation_logs"].rows == 2


def test_the_daily_backup_schedule_requests_one_run_per_day():
    [schedule] = [s for s in ALL_SCHEDULES if s.name == "daily_backup_schedule"]
    assert schedule.job_name == "backup_job" and schedule.cron_schedule == "0 2 * * *"
    context = dg.build_schedule_context(scheduled_execution_time=DAY_START)
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.run_key == "backup-2024-03-01"
