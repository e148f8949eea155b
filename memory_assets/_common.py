"""Helpers shared by the asset modules: the partition window, timing, result metadata and the run's span."""

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import dagster as dg

from memory_runtime import tracing

_Body = TypeVar("_Body", bound=Callable[..., Any])

GROUP = "memory"
OWNERS = ["team:memory-platform"]  # who to ask about an asset (the Dagster UI shows it on every asset)
PREVIEW_ROWS = 10
TOP_USERS = 10


def stage(name: str) -> dict[str, str]:
    """The asset tag that places an asset in the pipeline: ingest, consolidation or lifecycle."""
    return {"memory/stage": name}


class Window:
    """The time window of a run: one day partition or a whole single-run backfill range."""

    def __init__(self, start: datetime, end: datetime, first_key: str, last_key: str) -> None:
        self.start = start.astimezone(UTC)
        self.end = end.astimezone(UTC)
        self.first_key = first_key
        self.last_key = last_key

    @classmethod
    def of(cls, context: dg.AssetExecutionContext) -> "Window":
        """The window of a partitioned asset's run (covers every partition of a single-run backfill)."""
        tw = context.partition_time_window
        keys = context.partition_key_range
        return cls(tw.start, tw.end, keys.start, keys.end)

    def as_of(self) -> datetime:
        """The window end, but never in the future: the moment lifecycle assets compute 'now' for."""
        return min(self.end, datetime.now(UTC))

    @property
    def label(self) -> str:
        """'2024-03-01' or '2024-03-01..2024-03-05'."""
        return self.first_key if self.first_key == self.last_key else f"{self.first_key}..{self.last_key}"


class Timer:
    """Wall-clock duration of an asset body."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()

    @property
    def seconds(self) -> float:
        """Seconds since the timer started, rounded to milliseconds."""
        return round(time.monotonic() - self._t0, 3)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        value = f"{value:.4g}"
    elif isinstance(value, datetime):
        value = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    text = " ".join(str(value if value is not None else "").split())
    if len(text) > 80:
        text = text[:77] + "..."
    return text.replace("|", "\\|")


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], limit: int = PREVIEW_ROWS) -> str:
    """A small markdown table of the first `limit` rows (cells shortened, pipes escaped)."""
    if not rows:
        return "_nothing in this window_"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n_{len(rows) - limit} more rows_")
    return "\n".join(lines)


def counts_table(counts: Mapping[str, Any]) -> str:
    """A two-column markdown table of named counts."""
    return markdown_table([{"count": k, "value": v} for k, v in counts.items()], ["count", "value"], 50)


def _metadata_value(value: Any) -> Any:
    if isinstance(value, dg.MetadataValue):
        return value
    if isinstance(value, bool):
        return dg.MetadataValue.bool(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    return dg.MetadataValue.text(str(value))


def most_changed_users(by_user: Mapping[str, Mapping[str, int]], columns: Sequence[str]) -> str:
    """A markdown table of the TOP_USERS users with the most changes (the sum of `columns`), most first."""
    rows = [{"user": u, **{c: counts.get(c, 0) for c in columns}} for u, counts in by_user.items()]
    for row in rows:
        row["changes"] = sum(row[c] for c in columns)
    rows.sort(key=lambda r: (-r["changes"], r["user"]))
    return markdown_table(rows, ["user", "changes", *columns], TOP_USERS)


def materialized(
    window: Window,
    timer: Timer,
    counts: Mapping[str, Any],
    preview: str,
    extra: Mapping[str, Any] | None = None,
    data_version: str | None = None,
    markdown: Mapping[str, str] | None = None,
) -> dg.MaterializeResult:
    """The MaterializeResult of a memory asset: counts, window, duration, a markdown preview and further
    markdown tables (`markdown`, shown by the Dagster UI as tables)."""
    metadata: dict[str, Any] = {k: _metadata_value(v) for k, v in counts.items()}
    metadata.update({k: _metadata_value(v) for k, v in (extra or {}).items()})
    metadata.update({k: dg.MetadataValue.md(v) for k, v in (markdown or {}).items()})
    metadata["window"] = dg.MetadataValue.text(window.label)
    metadata["duration_s"] = dg.MetadataValue.float(timer.seconds)
    metadata["preview"] = dg.MetadataValue.md(preview)
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(data_version) if data_version else None)


def _run_attributes(context: Any) -> dict[str, tracing.AttributeValue]:
    """The Dagster run, and the partition (or the range of a single-run backfill), of an asset or op body."""
    attributes: dict[str, tracing.AttributeValue] = {"dagster.run_id": context.run.run_id}
    if getattr(context, "has_partition_key", False):
        keys = context.partition_key_range
        attributes["dagster.partition_key"] = keys.start if keys.start == keys.end else f"{keys.start}...{keys.end}"
    return attributes


def _counts(result: dg.MaterializeResult) -> dict[str, tracing.AttributeValue]:
    """The numeric metadata of a materialisation (what it counted and wrote) as `memory.count.<name>`."""
    return {
        f"memory.count.{key}": value.value
        for key, value in (result.metadata or {}).items()
        if isinstance(value, dg.IntMetadataValue | dg.FloatMetadataValue) and value.value is not None
    }


def traced(body: _Body) -> _Body:
    """Run an asset (or op) body in one span, `asset <key>` (`op <name>`), with the run id, the partition key
    and the materialisation's counts; the stores' spans of the run are its children. No span when tracing is off
    (MEMORY_TRACING, switched on for the run when the memory resource opens its stores)."""

    @functools.wraps(body)
    def in_span(context: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(context, "has_assets_def", False):
            name, key = "asset", context.asset_key.to_user_string()
        else:
            name, key = "op", context.op_def.name
        with tracing.span(f"{name} {key}", {f"dagster.{name}": key, **_run_attributes(context)}) as current:
            result = body(context, *args, **kwargs)
            if current is not None and isinstance(result, dg.MaterializeResult):
                current.set_attributes(_counts(result))
            return result

    return in_span  # type: ignore[return-value]  # the same signature: functools.wraps keeps it for Dagster
