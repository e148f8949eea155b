"""The daily backup: an op job (a backup is a side effect, not a data asset) and its retention.

`memory_runtime.batch.backup.scheduled_backup` writes `<root>/backup-<UTC time>` (the same backup as `agent-memory
backup`) and keeps the `keep` newest; the daily schedule in `schedules/daily.py` launches it.
"""

from pathlib import Path

import dagster as dg
from pydantic import Field

from memory_assets._common import traced
from memory_assets.jobs import STAGE_TAG
from memory_runtime.batch import backup
from resources import MemoryStoreResource

DEFAULT_ROOT = ".stack/backups"
DEFAULT_KEEP = 7


class BackupConfig(dg.Config):
    """Where backups go and how many are kept."""

    root: str = Field(DEFAULT_ROOT, description="Directory holding one sub-directory per backup.")
    keep: int = Field(DEFAULT_KEEP, description="Complete backups kept; older ones are deleted after a success.")


@dg.op(description="Back up PostgreSQL, the graph and Redis into a new directory, then apply retention.")
@traced
def backup_stores(context: dg.OpExecutionContext, config: BackupConfig, memory: MemoryStoreResource) -> None:
    """Run `scheduled_backup` and log what was written and removed."""
    path, manifest, removed = backup.scheduled_backup(memory.stores, Path(config.root), config.keep)
    size = sum(f.bytes for f in manifest.files.values())
    context.log.info(f"backup {path}: {manifest.counts()} ({size:,} bytes, {manifest.seconds:.1f} s)")
    for old in removed:
        context.log.info(f"retention removed {old}")


@dg.job(tags={STAGE_TAG: "upkeep"}, description="Back up every store (daily by schedule), keeping the newest N.")
def backup_job() -> None:
    backup_stores()


BACKUP_JOBS = [backup_job]
