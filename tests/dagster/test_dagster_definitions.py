"""The code location as Dagster loads it: definitions, partitions, jobs, schedules, config files, CLI."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster_helpers import ASSETS

from memory_assets.definitions import defs
from memory_assets.partitions import daily_partitions
from memory_runtime.stores.graph.dialect import DIALECTS
from memory_runtime.stores.graph.registry import render_all
from schedules import daily_lifecycle_schedule, hourly_pattern_detection_schedule, nightly_consolidation_schedule

ROOT = Path(__file__).resolve().parents[2]


def test_definitions_are_loadable():
    dg.Definitions.validate_loadable(defs)


def test_every_asset_is_in_the_memory_group_with_daily_single_run_partitions():
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    assert set(specs) == ASSETS
    assert {s.group_name for s in specs.values()} == {"memory"}
    for key in ASSETS:
        asset = defs.resolve_assets_def(key)
        assert asset.partitions_def == daily_partitions
        assert asset.backfill_policy == dg.BackfillPolicy.single_run()


def test_lineage_runs_from_the_turn_log_to_the_derived_memories():
    graph = defs.resolve_asset_graph()
    parents = {k: {p.to_user_string() for p in graph.get(dg.AssetKey(k)).parent_keys} for k in ASSETS}
    assert parents["episodic_graph"] == {"conversation_turns"}
    assert parents["semantic_memory"] == {"episodic_graph"}
    assert parents["memory_timeline"] == {"episodic_graph", "semantic_memory"}
    assert parents["archived_memories"] == {"salience_decay"}


def test_partitions_are_utc_days_including_today():
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert daily_partitions.get_first_partition_key() == "2024-01-01"
    assert daily_partitions.get_last_partition_key() == today  # end_offset=1
    assert daily_partitions.timezone == "UTC"


def test_sensor_job_targets_the_consolidation_assets():
    job = defs.resolve_job_def("consolidation_job")
    assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == {
        "episodic_graph",
        "semantic_memory",
        "memory_timeline",
    }
    sensors = {s.name: s for s in defs.sensors}
    assert set(sensors) == {"new_conversation_sensor", "reflection_sensor"}
    assert all(s.default_status == dg.DefaultSensorStatus.RUNNING for s in sensors.values())


@pytest.mark.parametrize(
    ("schedule", "tick", "partition", "run_key"),
    [
        (nightly_consolidation_schedule, datetime(2024, 3, 10, 3, tzinfo=UTC), "2024-03-09", "nightly-2024-03-09"),
        (daily_lifecycle_schedule, datetime(2024, 3, 1, 3, 30, tzinfo=UTC), "2024-02-29", "lifecycle-2024-02-29"),
        (
            hourly_pattern_detection_schedule,
            datetime(2024, 3, 10, 14, 15, tzinfo=UTC),
            "2024-03-10",
            "patterns-2024-03-10T14",
        ),
    ],
)
def test_schedules_name_their_partition_and_run_key(schedule, tick, partition, run_key):
    with dg.build_schedule_context(scheduled_execution_time=tick) as context:
        request = schedule(context)
    assert (request.partition_key, request.run_key) == (partition, run_key)


def test_schedules_are_on_after_deploy():
    crons = {s.name: s.cron_schedule for s in defs.schedules}
    assert crons == {
        "nightly_consolidation_schedule": "0 3 * * *",
        "daily_lifecycle_schedule": "30 3 * * *",
        "hourly_pattern_detection_schedule": "15 * * * *",
        "daily_backup_schedule": "0 2 * * *",
        "weekly_vector_compaction_schedule": "30 4 * * 0",
    }
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in defs.schedules)


def test_root_dagster_yaml_is_the_instance_config_shipped_with_the_cli():
    assert (ROOT / "dagster.yaml").read_bytes() == (ROOT / "memory_ops" / "dagster_instance.yaml").read_bytes()


def test_workspace_yaml_loads_the_code_location_from_the_repository_root():
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    assert workspace == {
        "load_from": [
            {
                "python_module": {
                    "module_name": "memory_assets.definitions",
                    "working_directory": ".",
                    "location_name": "agent_memory",
                }
            }
        ]
    }


def test_dagster_cli_validates_the_workspace(stack):
    env = {**os.environ, **stack.exports()}
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation successful" in proc.stdout + proc.stderr


def test_consolidation_cypher_passes_the_neo4j_linter():
    from neo4j_lint import errors_only, format_report, lint, require_lint

    require_lint()
    # The statements of the batch jobs the assets, checks and sensors run (memory_runtime.stores.graph.queries).
    areas = ("projection.", "timeline.", "patterns.", "profiles.", "reflections.", "lifecycle.", "quality.")
    statements = {k: v for k, v in render_all(DIALECTS["neo4j"]).items() if k.startswith(areas)}
    assert len(statements) >= 21, sorted(statements)
    errors = errors_only(lint(statements))
    assert not errors, format_report(errors, statements)
