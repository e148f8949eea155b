"""Dagster schedules: nightly re-consolidation, daily decay and archival, hourly pattern detection."""

from schedules.daily import (
    ALL_SCHEDULES,
    daily_lifecycle_schedule,
    hourly_pattern_detection_schedule,
    nightly_consolidation_schedule,
)

__all__ = [
    "ALL_SCHEDULES",
    "daily_lifecycle_schedule",
    "hourly_pattern_detection_schedule",
    "nightly_consolidation_schedule",
]
