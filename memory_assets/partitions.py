"""Daily partitions on turn time (UTC). `end_offset=1` makes today a partition, so the new-conversation
sensor and the hourly pattern sweep can target it while the day is still running.

The first partition is `MEMORY_PARTITIONS_START_DATE` when set, else the Settings default (2024-01-01).
It is read when the code location loads: partition definitions are static in Dagster.
"""

import os
from datetime import UTC, datetime, timedelta

import dagster as dg

from memory_runtime.config import Settings

START_DATE_ENV = "MEMORY_PARTITIONS_START_DATE"
DAY_FORMAT = "%Y-%m-%d"


def partitions_start_date() -> str:
    """The first day partition: MEMORY_PARTITIONS_START_DATE or the Settings default."""
    return os.environ.get(START_DATE_ENV) or str(Settings.model_fields["partitions_start_date"].default)


daily_partitions = dg.DailyPartitionsDefinition(
    start_date=partitions_start_date(), end_offset=1, timezone="UTC", fmt=DAY_FORMAT
)


def day_key(moment: datetime) -> str:
    """The partition key (UTC day) of a moment."""
    return moment.astimezone(UTC).strftime(DAY_FORMAT)


def day_start(key: str) -> datetime:
    """Midnight UTC at the start of a partition key's day."""
    return datetime.strptime(key, DAY_FORMAT).replace(tzinfo=UTC)


def yesterday_key(moment: datetime) -> str:
    """The partition key of the UTC day before `moment`."""
    return day_key(moment.astimezone(UTC) - timedelta(days=1))


def is_partition(key: str) -> bool:
    """Whether `key` is a partition that exists now (not before the start date, not after today)."""
    return day_key(daily_partitions.start) <= key <= day_key(datetime.now(UTC))
