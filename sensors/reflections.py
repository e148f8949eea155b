"""`reflection_sensor`: request a `reflections` run when reflection jobs wait in the Redis Stream.

At-least-once design: the sensor never reads or acknowledges jobs. It looks at the consumer group
(`dagster`) of the reflection queue (`memory_runtime.batch.reflect.backlog`): its lag (jobs not yet
delivered) and its stale pending jobs (delivered to a run that did not acknowledge them within the asset's
`RECLAIM_IDLE_MS`, i.e. a run that crashed). When either is non-zero it requests a `reflections_job` run
for today's partition with run key `<today>@<last stream entry id>`; the asset reads the jobs, writes
them, and only then acknowledges them (see memory_assets/reflections.py).

The cursor remembers the last run key it requested. While the stream's last entry is unchanged, the
sensor does not request again as long as that run is queued or running; once it has finished (a failed
run leaves its jobs pending or undelivered) it requests a retry `<key>#retry<n>`, at most `MAX_RETRIES`
times per last entry. New entries change the key and start over.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from memory_assets import reflections as reflections_asset
from memory_assets.jobs import reflections_job
from memory_assets.partitions import day_key
from memory_assets.reflections import CONSUMER_GROUP
from memory_runtime.batch import reflect
from resources import MemoryStoreResource

MAX_RETRIES = 5
RUN_KEY_TAG = "dagster/run_key"  # the tag Dagster puts on runs requested with a run key


@dataclass
class ReflectionCursor:
    """The last run key requested, the key it was derived from, and how many retries it has had."""

    base: str = ""
    run_key: str = ""
    attempt: int = 0

    @classmethod
    def parse(cls, text: str | None) -> "ReflectionCursor":
        """Read the JSON cursor; empty means nothing requested yet."""
        if not text:
            return cls()
        data = json.loads(text)
        return cls(str(data.get("base", "")), str(data.get("run_key", "")), int(data.get("attempt", 0)))

    def dump(self) -> str:
        """The cursor as JSON."""
        return json.dumps({"base": self.base, "run_key": self.run_key, "attempt": self.attempt}, sort_keys=True)


def _run_finished(instance: dg.DagsterInstance, run_key: str) -> bool | None:
    """Whether the newest run with `run_key` has finished; None when there is no such run."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1)
    return runs[0].is_finished if runs else None


@dg.sensor(
    name="reflection_sensor",
    job=reflections_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Requests a reflections run for today's partition when reflection jobs wait in the Redis Stream "
        "(consumer group lag, or jobs of a crashed run); the asset acknowledges jobs after writing them."
    ),
)
def reflection_sensor(
    context: dg.SensorEvaluationContext, memory: MemoryStoreResource
) -> dg.SensorResult | dg.SkipReason:
    """One tick: look at the consumer group and request (or retry) a reflections run."""
    backlog = reflect.backlog(memory.stores, CONSUMER_GROUP, reflections_asset.RECLAIM_IDLE_MS)
    if not backlog.waiting:
        return dg.SkipReason("no reflection jobs waiting")
    lag, stale, newest = backlog.lag, backlog.stale, backlog.newest
    today = day_key(datetime.now(UTC))
    base = f"{today}@{newest}"
    previous = ReflectionCursor.parse(context.cursor)
    attempt = 0
    if previous.base == base:
        finished = _run_finished(context.instance, previous.run_key)
        if finished is False:
            return dg.SkipReason(f"run {previous.run_key} is handling {lag + stale} waiting jobs")
        if finished is None:  # never launched (or deleted): ask again; Dagster dedups an existing key
            attempt = previous.attempt
        else:
            attempt = previous.attempt + 1
            if attempt > MAX_RETRIES:
                return dg.SkipReason(
                    f"{lag} undelivered and {stale} stale jobs remain after {MAX_RETRIES} retries of {base}; "
                    f"see the failed runs. A new job or a new day starts over."
                )
    run_key = base if attempt == 0 else f"{base}#retry{attempt}"
    request = dg.RunRequest(partition_key=today, run_key=run_key, tags={"memory/trigger": "reflection_sensor"})
    return dg.SensorResult(run_requests=[request], cursor=ReflectionCursor(base, run_key, attempt).dump())
