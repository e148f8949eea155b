"""The two sensors against real stores: cursors, guards, run keys, at-least-once reflection jobs."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster_helpers import DAY, DAY_START, age_turns, make_resource, materialize, metadata, store_conversation

from memory_assets import reflections as reflections_module
from memory_assets.reflections import CONSUMER_GROUP, reflections
from memory_runtime.domain.models import Reflection
from memory_runtime.memory.reflection import ReflectionQueue
from sensors.conversations import TurnCursor, new_conversation_sensor
from sensors.reflections import reflection_sensor

NEXT_DAY = "2024-03-02"


def tick(sensor, memory, instance, cursor: str | None = None) -> tuple[list[dg.RunRequest], str | None]:
    """Evaluate one sensor tick; returns (run requests, cursor after the tick)."""
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"memory": memory}) as context:
        result = sensor(context)
    if isinstance(result, dg.SkipReason):
        return [], cursor
    return list(result.run_requests or []), result.cursor


def _seq(stores, day: str, agg: str = "max") -> int:
    """max (or min) conversation_logs.seq of the turns said on `day`."""
    return stores.pg.fetch(
        f"SELECT {agg}(seq) AS s FROM conversation_logs "
        "WHERE to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') = %s",
        (day,),
    )[0]["s"]


def _max_seq(stores, day: str) -> int:
    return _seq(stores, day)


# ---- new_conversation_sensor -----------------------------------------------------------------------


def test_turn_sensor_requests_each_new_day_partition_once(stores, memory, instance):
    store_conversation(stores, "u1", "c1", DAY_START + timedelta(hours=8), ["a", "b"])
    store_conversation(stores, "u2", "c2", DAY_START + timedelta(days=1, hours=8), ["c"])
    age_turns(stores)

    runs, cursor = tick(new_conversation_sensor, memory, instance)

    assert [(r.partition_key, r.run_key) for r in runs] == [
        (DAY, f"{DAY}@{_max_seq(stores, DAY)}"),
        (NEXT_DAY, f"{NEXT_DAY}@{_max_seq(stores, NEXT_DAY)}"),
    ]
    assert cursor == str(_max_seq(stores, NEXT_DAY))
    again, same = tick(new_conversation_sensor, memory, instance, cursor)
    assert again == [] and same == cursor

    store_conversation(stores, "u1", "c1", DAY_START + timedelta(hours=9), ["later that day"], first_index=2)
    age_turns(stores)
    runs, cursor = tick(new_conversation_sensor, memory, instance, cursor)
    assert [(r.partition_key, r.run_key) for r in runs] == [(DAY, f"{DAY}@{_max_seq(stores, DAY)}")]


def test_turn_sensor_leaves_turns_inside_the_commit_lag_for_a_later_tick(stores, memory, instance):
    store_conversation(stores, "u1", "c1", DAY_START, ["just written"])  # ingested now, lag is 30 s

    runs, cursor = tick(new_conversation_sensor, memory, instance, "0")

    assert runs == [] and cursor == "0"
    age_turns(stores)
    runs, _ = tick(new_conversation_sensor, memory, instance, "0")
    assert [r.partition_key for r in runs] == [DAY]


def test_turn_sensor_holds_a_day_whose_conversation_is_still_going(stores, memory, instance):
    store_conversation(stores, "u1", "c-busy", DAY_START + timedelta(days=1), ["started yesterday"])
    store_conversation(stores, "u2", "c-done", DAY_START + timedelta(hours=3), ["finished"])
    age_turns(stores)
    store_conversation(stores, "u1", "c-busy", DAY_START + timedelta(days=1, minutes=5), ["still"], first_index=1)

    runs, cursor = tick(new_conversation_sensor, memory, instance)

    assert [r.partition_key for r in runs] == [DAY]  # NEXT_DAY's latest turn is younger than the lag
    state = TurnCursor.parse(cursor)
    assert state.seq == _seq(stores, NEXT_DAY, "min") - 1  # stops before the held day's first turn
    assert state.requested == {DAY: _max_seq(stores, DAY)}
    assert tick(new_conversation_sensor, memory, instance, cursor) == ([], cursor)  # DAY is not asked again

    age_turns(stores)
    runs, cursor = tick(new_conversation_sensor, memory, instance, cursor)
    assert [(r.partition_key, r.run_key) for r in runs] == [(NEXT_DAY, f"{NEXT_DAY}@{_max_seq(stores, NEXT_DAY)}")]
    assert cursor == str(_max_seq(stores, NEXT_DAY))


def test_turn_sensor_reads_at_most_max_turns_per_tick(stores, settings, instance):
    store_conversation(stores, "u1", "c1", DAY_START, ["a", "b", "c"])
    store_conversation(stores, "u1", "c2", DAY_START + timedelta(days=1), ["d"])
    age_turns(stores)
    memory = make_resource(settings, sensor_max_turns_per_tick=2)

    runs, cursor = tick(new_conversation_sensor, memory, instance)
    assert [r.partition_key for r in runs] == [DAY] and int(cursor) == _max_seq(stores, DAY) - 1
    runs, cursor = tick(new_conversation_sensor, memory, instance, cursor)
    assert [r.partition_key for r in runs] == [DAY, NEXT_DAY]


def test_turn_sensor_skips_days_before_the_first_partition(stores, memory, instance):
    store_conversation(stores, "u1", "c-old", datetime(2023, 12, 31, tzinfo=UTC), ["before the start date"])
    age_turns(stores)

    runs, cursor = tick(new_conversation_sensor, memory, instance)

    assert runs == [] and cursor == str(_max_seq(stores, "2023-12-31"))


# ---- reflection_sensor -----------------------------------------------------------------------------


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def _enqueue(stores, outcome: str, conversation: str = "c1", success: bool | None = True) -> str:
    return ReflectionQueue(stores.redis).enqueue(
        "u1", conversation, Reflection(outcome=outcome, success=success, conversation_id=conversation)
    )


def _run_requested(request: dg.RunRequest, memory, instance, **kwargs):
    """Execute the run a request asks for, tagged with its run key as the daemon would."""
    return materialize(
        [reflections], memory, instance, partition_key=request.partition_key,
        tags={"dagster/run_key": request.run_key}, **kwargs,
    )  # fmt: skip


def test_reflection_sensor_requests_a_run_and_each_job_is_consumed_once(stores, memory, instance):
    assert tick(reflection_sensor, memory, instance) == ([], None)
    store_conversation(stores, "u1", "c1", DAY_START, ["hello"])
    _enqueue(stores, "answered the question")
    last = _enqueue(stores, "booked the flight")

    [request], cursor = tick(reflection_sensor, memory, instance)
    assert (request.partition_key, request.run_key) == (_today(), f"{_today()}@{last}")
    assert metadata(_run_requested(request, memory, instance), "reflections")["jobs_read"] == 2
    assert tick(reflection_sensor, memory, instance, cursor) == ([], cursor)

    newest = _enqueue(stores, "wrote the report")
    [request], cursor = tick(reflection_sensor, memory, instance, cursor)
    assert request.run_key == f"{_today()}@{newest}"
    assert metadata(_run_requested(request, memory, instance), "reflections")["jobs_read"] == 1
    assert tick(reflection_sensor, memory, instance, cursor) == ([], cursor)

    queue = ReflectionQueue(stores.redis)
    assert (queue.pending(CONSUMER_GROUP), queue.lag(CONSUMER_GROUP)) == (0, 0)
    count = stores.graph.read("MATCH (r:Reflection) RETURN count(r) AS n, count(DISTINCT r.job_id) AS jobs")
    assert count == [{"n": 3, "jobs": 3}]


def test_reflection_sensor_does_not_ask_again_while_its_run_is_in_flight(stores, memory, instance):
    _enqueue(stores, "done")
    [request], cursor = tick(reflection_sensor, memory, instance)
    instance.add_run(
        dg.DagsterRun(job_name="reflections_job", run_id="r1", tags={"dagster/run_key": request.run_key},
                      status=dg.DagsterRunStatus.STARTED)
    )  # fmt: skip
    assert tick(reflection_sensor, memory, instance, cursor) == ([], cursor)


def test_reflection_jobs_of_a_failed_run_are_retried_and_then_processed(
    stores, settings, memory, instance, monkeypatch
):
    monkeypatch.setattr(reflections_module, "RECLAIM_IDLE_MS", 0)
    store_conversation(stores, "u1", "c1", DAY_START, ["hello"])
    job = _enqueue(stores, "failed to book", success=False)
    [request], cursor = tick(reflection_sensor, memory, instance)
    # Postgres without the memory schema: the run reads the job, then fails before writing it.
    broken = make_resource(settings, postgres_schema="no_such_schema")

    failed = _run_requested(request, broken, instance, raise_on_error=False)

    assert not failed.success
    queue = ReflectionQueue(stores.redis)
    assert queue.pending(CONSUMER_GROUP) == 1  # read but never acknowledged
    [retry], cursor = tick(reflection_sensor, memory, instance, cursor)
    assert retry.run_key == f"{request.run_key}#retry1"
    meta = metadata(_run_requested(retry, memory, instance), "reflections")
    assert (meta["jobs_reclaimed"], meta["reflections_written"], meta["acknowledged"]) == (1, 1, 1)
    assert queue.pending(CONSUMER_GROUP) == 0
    assert tick(reflection_sensor, memory, instance, cursor) == ([], cursor)
    [node] = stores.graph.read(
        "MATCH (r:Reflection)-[:REFLECTS_ON]->(c:Conversation) RETURN r.job_id AS job, c.id AS conversation"
    )
    assert node == {"job": job, "conversation": "c1"}


def test_reflections_asset_writes_a_heuristic_critique_from_the_conversations_tools(stores, memory, instance):
    from memory_runtime.memory.procedural import ProceduralMemory

    store_conversation(stores, "u1", "c1", DAY_START, ["book me a flight"])
    tools = ProceduralMemory(stores, "u1")
    for name, ok in (("search_flights", True), ("book", False), ("book", False), ("book", True)):
        tools.record_tool_usage(name, {}, {}, ok, 10.0, conversation_id="c1")
    _enqueue(stores, "booking failed twice before it worked", success=False)

    materialize([reflections], memory, instance, partition_key=_today())

    [row] = stores.graph.read(
        "MATCH (r:Reflection) RETURN r.critique AS critique, r.tools_used AS tools, r.failed_calls AS failed, "
        "r.tool_failures AS failures"
    )
    assert row["tools"] == ["book", "search_flights"] and row["failed"] == 2
    assert json.loads(row["failures"]) == {"book": 2, "search_flights": 0}
    assert row["critique"].startswith(
        "Failed: booking failed twice before it worked. "
        "Tools used: book (3 calls, 2 failed), search_flights (1 call, 0 failed)."
    )
    assert "Most failures came from book (2 of 3 calls failed)" in row["critique"]
    [event] = stores.pg.fetch("SELECT event_type, conversation_id FROM memory_timeline")
    assert event == {"event_type": "reflection", "conversation_id": "c1"}


def test_reflections_asset_drops_jobs_without_a_user(stores, memory, instance):
    queue = ReflectionQueue(stores.redis)
    queue.ensure_group(CONSUMER_GROUP)
    stores.redis.client.xadd(queue.key, {"outcome": "orphan job"})

    meta = metadata(materialize([reflections], memory, instance, partition_key=_today()), "reflections")

    assert (meta["invalid_jobs"], meta["acknowledged"], meta["reflections_written"]) == (1, 1, 0)
    assert queue.pending(CONSUMER_GROUP) == 0
