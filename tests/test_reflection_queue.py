"""The reflection queue on a real Redis Stream: consumer groups, acknowledgement, lag and erasure."""

import time

import pytest

from memory_runtime.domain.errors import NotFoundError, ValidationError
from memory_runtime.domain.models import Reflection
from memory_runtime.memory.reflection import ReflectionQueue, forget_user


@pytest.fixture
def queue(stores) -> ReflectionQueue:
    return ReflectionQueue(stores.redis)


def reflection(outcome: str = "the answer helped", **kwargs) -> Reflection:
    return Reflection(outcome=outcome, **kwargs)


def test_enqueue_returns_the_stream_entry_id(queue, stores):
    entry_id = queue.enqueue("u1", "c1", reflection())

    assert [e[0].decode() for e in stores.redis.client.xrange(queue.key)] == [entry_id]
    assert queue.key == stores.redis.key("stream", "reflections")


def test_a_job_carries_the_reflection_user_and_conversation(queue):
    queue.enqueue("u1", "c1", reflection("fixed the build", success=True, details={"tool": "pytest", "n": 2}))

    [job] = queue.read("dagster", "worker")

    assert (job.user_id, job.conversation_id) == ("u1", "c1")
    assert job.reflection() == Reflection(
        outcome="fixed the build", success=True, conversation_id="c1", details={"tool": "pytest", "n": 2}
    )
    assert abs(job.enqueued_at_ms - time.time() * 1000) < 60_000


def test_a_job_without_conversation_or_success_reads_back_as_none(queue):
    queue.enqueue("u1", None, reflection())

    [job] = queue.read("dagster", "worker")

    assert (job.conversation_id, job.success, job.details) == (None, None, {})


def test_enqueue_rejects_details_that_are_not_json(queue):
    with pytest.raises(ValidationError, match="JSON"):
        queue.enqueue("u1", "c1", reflection(details={"x": object()}))


def test_reflect_jobs_are_consumed_once_per_group(queue):
    ids = [queue.enqueue("u1", "c1", reflection(f"outcome {i}")) for i in range(6)]
    queue.ensure_group("dagster")
    queue.ensure_group("audit")

    first = queue.read("dagster", "a", count=4)
    second = queue.read("dagster", "b", count=10)
    audit = queue.read("audit", "x", count=10)

    assert [j.id for j in first + second] == ids
    assert queue.read("dagster", "a") == []
    assert [j.id for j in audit] == ids


def test_jobs_enqueued_before_the_group_exists_are_delivered(queue):
    queue.enqueue("u1", "c1", reflection())

    assert len(queue.read("dagster", "worker")) == 1


def test_ensure_group_is_idempotent(queue):
    assert queue.ensure_group("dagster") is True
    queue.enqueue("u1", "c1", reflection())
    queue.read("dagster", "worker")

    assert queue.ensure_group("dagster") is False
    assert queue.lag("dagster") == 0  # the existing group's position is kept


def test_read_with_block_returns_nothing_when_the_stream_is_empty(queue):
    assert queue.read("dagster", "worker", block_ms=10) == []


def test_acked_jobs_are_no_longer_pending(queue):
    for i in range(3):
        queue.enqueue("u1", "c1", reflection(f"outcome {i}"))
    jobs = queue.read("dagster", "worker")
    assert queue.pending("dagster") == 3

    assert queue.ack("dagster", [j.id for j in jobs[:2]]) == 2

    assert queue.pending("dagster") == 1


def test_lag_counts_jobs_not_yet_delivered(queue):
    for i in range(5):
        queue.enqueue("u1", "c1", reflection(f"outcome {i}"))
    queue.ensure_group("dagster")
    assert queue.lag("dagster") == 5

    queue.read("dagster", "worker", count=2)

    assert queue.lag("dagster") == 3


def test_lag_of_a_missing_group_is_not_found(queue):
    with pytest.raises(NotFoundError, match="ensure_group"):
        queue.lag("dagster")


def test_reclaim_hands_over_jobs_a_crashed_consumer_left_pending(queue):
    ids = [queue.enqueue("u1", "c1", reflection(f"outcome {i}")) for i in range(2)]
    queue.read("dagster", "crashed")

    assert queue.reclaim("dagster", "worker", min_idle_ms=60_000) == []
    time.sleep(0.02)
    assert [j.id for j in queue.reclaim("dagster", "worker", min_idle_ms=10)] == ids


def test_the_stream_is_capped(stores):
    queue = ReflectionQueue(stores.redis, max_len=10)
    for i in range(300):
        queue.enqueue("u1", "c1", reflection(f"outcome {i}"))

    assert stores.redis.client.xlen(queue.key) < 300  # approximate trimming keeps whole nodes


def test_forget_user_removes_only_that_users_jobs(queue, stores):
    for i in range(4):
        queue.enqueue("u1" if i % 2 else "u2", "c1", reflection(f"outcome {i}"))

    assert forget_user(stores.redis, "u1") == 2

    assert {j.user_id for j in queue.read("dagster", "worker")} == {"u2"}


def test_forget_user_acknowledges_its_pending_jobs(queue, stores):
    queue.enqueue("u1", "c1", reflection())
    queue.enqueue("u2", "c1", reflection())
    queue.read("dagster", "worker")

    forget_user(stores.redis, "u1")

    assert queue.pending("dagster") == 1


def test_forget_user_scans_past_one_chunk(queue, stores, monkeypatch):
    monkeypatch.setattr("memory_runtime.memory.reflection._SCAN_CHUNK", 3)
    for i in range(10):
        queue.enqueue("u1" if i % 3 == 0 else "u2", "c1", reflection(f"outcome {i}"))

    assert forget_user(stores.redis, "u1") == 4
    assert stores.redis.client.xlen(queue.key) == 6


def test_lag_stays_exact_after_jobs_are_erased(queue, stores):
    for i in range(6):
        queue.enqueue("u1" if i == 3 else "u2", "c1", reflection(f"outcome {i}"))
    queue.ensure_group("dagster")
    queue.read("dagster", "worker", count=2)

    forget_user(stores.redis, "u1")  # a deletion Redis cannot account for in its own lag

    assert queue.lag("dagster") == 3
