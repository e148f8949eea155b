"""The reflection queue: a Redis Stream that `AgentMemory.reflect` appends to and Dagster consumes.

Each entry holds one `Reflection` with its user and conversation. The `reflection_sensor` reads the
stream through a consumer group (default `dagster`), starts runs for the jobs it read and acknowledges
them; jobs a crashed consumer read but never acknowledged are taken over with `reclaim`. The stream is
capped (approximate MAXLEN), so scanning it for erasure is bounded.
"""

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import redis as redis_py
from pydantic_core import PydanticSerializationError

from memory_runtime.domain.errors import NotFoundError, ValidationError
from memory_runtime.domain.models import Reflection
from memory_runtime.stores.redis import RedisStore, as_str
from memory_runtime.stores.redis.streams import stream_page

log = logging.getLogger(__name__)

DEFAULT_STREAM = "reflections"
DEFAULT_GROUP = "dagster"
STREAM_MAXLEN = 100_000
_SCAN_CHUNK = 1000


@dataclass(frozen=True)
class ReflectionJob:
    """One queued reflection, as a consumer reads it."""

    id: str
    user_id: str
    conversation_id: str | None
    outcome: str
    success: bool | None
    details: dict[str, Any] = field(default_factory=dict)
    enqueued_at_ms: int = 0

    @classmethod
    def from_entry(cls, entry_id: bytes, fields: dict[bytes, bytes]) -> "ReflectionJob":
        """Decode a stream entry; a malformed details field is logged and read as {}."""
        text = {k.decode(): v.decode() for k, v in fields.items()}
        try:
            details = json.loads(text.get("details") or "{}")
        except json.JSONDecodeError:
            log.warning("reflection job %s has malformed details; reading them as {}", entry_id)
            details = {}
        return cls(
            id=entry_id.decode(),
            user_id=text.get("user_id", ""),
            conversation_id=text.get("conversation_id") or None,
            outcome=text.get("outcome", ""),
            success={"true": True, "false": False}.get(text.get("success", "")),
            details=details if isinstance(details, dict) else {"value": details},
            enqueued_at_ms=int(text.get("enqueued_at") or 0),
        )

    def reflection(self) -> Reflection:
        """The job as the Reflection model that was enqueued."""
        return Reflection(
            outcome=self.outcome,
            success=self.success,
            conversation_id=self.conversation_id,
            details=self.details,
        )


class ReflectionQueue:
    """Reflection jobs on the stream `redis.key("stream", stream)`, consumed through consumer groups."""

    def __init__(self, redis: RedisStore, stream: str = DEFAULT_STREAM, *, max_len: int = STREAM_MAXLEN):
        self.redis = redis
        self.key = redis.key("stream", stream)
        self.max_len = max_len

    def enqueue(self, user_id: str, conversation_id: str | None, reflection: Reflection) -> str:
        """Append a reflection job; returns its stream entry id."""
        try:
            details = json.dumps(reflection.model_dump(mode="json")["details"], ensure_ascii=False)
        except (PydanticSerializationError, ValueError, RecursionError) as exc:  # ValueError: too deep
            raise ValidationError(f"reflection details must be JSON-serialisable: {exc}") from None
        fields: dict[str, str | int] = {
            "user_id": user_id,
            "conversation_id": conversation_id or reflection.conversation_id or "",
            "outcome": reflection.outcome,
            "success": {True: "true", False: "false", None: ""}[reflection.success],
            "details": details,
            "enqueued_at": int(time.time() * 1000),
        }
        for name, value in fields.items():
            if isinstance(value, str):
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValidationError(f"reflection {name} is not valid Unicode text (lone surrogates)") from None
        # redis-py types `fields` as an invariant dict[FieldT, EncodableT], which no dict[str, ...] matches.
        entry_id = self.redis.client.xadd(self.key, fields, maxlen=self.max_len, approximate=True)  # type: ignore[arg-type]
        return as_str(entry_id)

    def ensure_group(self, group: str = DEFAULT_GROUP) -> bool:
        """Create the consumer group (and the stream) if missing; True if it was created.

        A new group starts at the beginning of the stream, so jobs queued before it existed are delivered.
        """
        try:
            self.redis.client.xgroup_create(self.key, group, id="0", mkstream=True)
        except redis_py.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return False
        return True

    def read(self, group: str, consumer: str, count: int = 100, block_ms: int | None = None) -> list[ReflectionJob]:
        """Up to `count` jobs never delivered to `group` (creating the group if needed)."""
        try:
            response = self._read(group, consumer, count, block_ms)
        except redis_py.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.ensure_group(group)
            response = self._read(group, consumer, count, block_ms)
        return [ReflectionJob.from_entry(eid, fields) for _, entries in response or [] for eid, fields in entries]

    def _read(self, group: str, consumer: str, count: int, block_ms: int | None) -> Any:
        return self.redis.client.xreadgroup(group, consumer, {self.key: ">"}, count=count, block=block_ms)

    def reclaim(self, group: str, consumer: str, min_idle_ms: int = 60_000, count: int = 100) -> list[ReflectionJob]:
        """Take over up to `count` jobs delivered in `group` but unacknowledged for `min_idle_ms` (crashed readers)."""
        jobs: list[ReflectionJob] = []
        cursor: bytes | str = "0-0"
        while len(jobs) < count:
            try:
                reply = self.redis.client.xautoclaim(
                    self.key, group, consumer, min_idle_ms, start_id=cursor, count=count - len(jobs)
                )
            except redis_py.ResponseError as exc:
                raise self._no_group(group, exc) from None
            cursor, entries = reply[0], reply[1]
            jobs += [ReflectionJob.from_entry(eid, fields) for eid, fields in entries if eid is not None]
            if cursor in (b"0-0", "0-0"):
                break
        return jobs

    def ack(self, group: str, ids: list[str]) -> int:
        """Acknowledge processed jobs; returns how many were pending."""
        return int(self.redis.client.xack(self.key, group, *ids)) if ids else 0

    def pending(self, group: str) -> int:
        """Jobs delivered to `group` but not yet acknowledged."""
        try:
            return int(self.redis.client.xpending(self.key, group)["pending"])
        except redis_py.ResponseError as exc:
            raise self._no_group(group, exc) from None

    def lag(self, group: str) -> int:
        """Jobs in the stream not yet delivered to `group`."""
        info = self._group_info(group)
        if info.get("lag") is not None:
            return int(info["lag"])
        # Redis < 7, or a lag Redis cannot compute after deletions: count the entries past the group's cursor.
        return self._count_after(info["last-delivered-id"])

    def _group_info(self, group: str) -> dict[str, Any]:
        try:
            groups = self.redis.client.xinfo_groups(self.key)
        except redis_py.ResponseError as exc:
            raise self._no_group(group, exc) from None
        for info in groups:
            if info["name"] in (group, group.encode()):
                return info
        raise self._no_group(group, None)

    def _no_group(self, group: str, exc: Exception | None) -> Exception:
        if exc is not None and "NOGROUP" not in str(exc) and "no such key" not in str(exc):
            return exc
        return NotFoundError(f"no consumer group {group!r} on {self.key}; call ensure_group({group!r}) first")

    def _count_after(self, last_id: bytes | str) -> int:
        start = "(" + (last_id.decode() if isinstance(last_id, bytes) else last_id)
        total = 0
        while True:
            entries = stream_page(self.redis, self.key, start, _SCAN_CHUNK)
            total += len(entries)
            if len(entries) < _SCAN_CHUNK:
                return total
            start = "(" + entries[-1][0].decode()

    def forget_user(self, user_id: str) -> int:
        """Delete every job of `user_id` (acknowledging it in every group); returns how many were deleted."""
        wanted = user_id.encode()
        ids: list[bytes] = []
        start = "-"
        while True:
            entries = stream_page(self.redis, self.key, start, _SCAN_CHUNK)
            ids += [eid for eid, fields in entries if fields.get(b"user_id") == wanted]
            if len(entries) < _SCAN_CHUNK:
                break
            start = "(" + entries[-1][0].decode()
        if not ids:
            return 0
        groups = [info["name"] for info in self.redis.client.xinfo_groups(self.key)]
        deleted = 0
        for at in range(0, len(ids), _SCAN_CHUNK):
            chunk = ids[at : at + _SCAN_CHUNK]
            pipe = self.redis.client.pipeline(transaction=True)
            for group in groups:  # a deleted job must not stay pending forever
                pipe.xack(self.key, group, *chunk)
            pipe.xdel(self.key, *chunk)
            deleted += int(pipe.execute()[-1])
        return deleted


def forget_user(redis: RedisStore, user_id: str, stream: str = DEFAULT_STREAM) -> int:
    """Delete every reflection job of `user_id` from the stream; returns how many were deleted."""
    return ReflectionQueue(redis, stream).forget_user(user_id)
