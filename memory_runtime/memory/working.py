"""Working memory in Redis: recent turns, context entries, thoughts and the active goal of a conversation.

Working memory is a cache of the conversation's present; the turn log in PostgreSQL is the source of
truth and `push_turns` is fed by the episodic write path. Every key is built by `RedisStore.key` as
`wm:<user>:<conversation>:<part>`, and every write registers the conversation's keys in a per-user
registry set `wm:<user>:keys`, so `forget_user` deletes a user's working memory without a scan.

Each write is one Lua script (one round trip, atomic): it changes the data, registers the keys, and
extends (never shortens) the TTL of every key of the conversation to `ttl_s`; the registry is kept alive
at least as long as the longest-lived key it lists. Context entries carry their own TTL: a hash of
values plus a sorted set of expiry times (Redis server clock), pruned on every context read and write,
because per-field hash TTLs (HEXPIRE) need Redis 7.4 and we support 7.0.
"""

import json
import math
from datetime import date, datetime
from typing import Any, cast

from memory_runtime.domain.errors import ValidationError
from memory_runtime.domain.models import Turn, estimate_tokens
from memory_runtime.stores.redis import RedisStore, as_str

DEFAULT_MAX_THOUGHTS = 100
_DELETE_BATCH = 500

# KEYS of every script: [1] the user's registry, [2..6] the conversation's keys (see WorkingMemory._keys).
_LUA_PRELUDE = """
local function extend(key, ttl)
  local cur = redis.call('PTTL', key)
  if cur == -1 or (cur >= 0 and cur < ttl) then redis.call('PEXPIRE', key, ttl) end
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function prune_context(now)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
  if #expired > 0 then
    redis.call('HDEL', KEYS[3], unpack(expired))
    redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
  end
end

local function touch(ttl)
  local longest = ttl
  for i = 2, #KEYS do
    extend(KEYS[i], ttl)
    longest = math.max(longest, redis.call('PTTL', KEYS[i]))
    redis.call('SADD', KEYS[1], KEYS[i])
  end
  extend(KEYS[1], longest)
end
"""

# ARGV: max_turns, ttl_ms, then (id, index, json) per turn, ascending index. Returns the number of new turns.
_PUSH_TURNS = """
local max_turns, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local existing = redis.call('LRANGE', KEYS[2], 0, -1)
local all, seen = {}, {}
for _, raw in ipairs(existing) do
  local turn = cjson.decode(raw)
  seen[turn['id']] = true
  table.insert(all, {tonumber(turn['index']), raw})
end
local newest = all[1] and all[1][1]
local in_order, fresh = true, 0
for i = 3, #ARGV, 3 do
  local id, index = ARGV[i], tonumber(ARGV[i + 1])
  if not seen[id] then
    seen[id] = true
    fresh = fresh + 1
    if newest ~= nil and index <= newest then in_order = false end
    newest = index
    table.insert(all, {index, ARGV[i + 2]})
  end
end
if fresh > 0 then
  if in_order then
    for i = #existing + 1, #all do redis.call('LPUSH', KEYS[2], all[i][2]) end
  else
    -- a turn older than one already kept (backfill, re-projection): rebuild the list in index order
    table.sort(all, function(a, b) return a[1] > b[1] end)
    redis.call('DEL', KEYS[2])
    for i = 1, math.min(#all, max_turns) do redis.call('RPUSH', KEYS[2], all[i][2]) end
  end
  redis.call('LTRIM', KEYS[2], 0, max_turns - 1)
end
touch(ttl)
return fresh
"""

# ARGV: ttl_ms, name, json, entry_ttl_ms.
_SET_CONTEXT = """
local ttl, entry_ttl = tonumber(ARGV[1]), tonumber(ARGV[4])
local now = now_ms()
prune_context(now)
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[4], now + entry_ttl, ARGV[2])
extend(KEYS[3], entry_ttl)
extend(KEYS[4], entry_ttl)
touch(ttl)
return 1
"""

# Returns the unexpired entries as a flat [name, json, ...] list.
_GET_CONTEXT = """
prune_context(now_ms())
return redis.call('HGETALL', KEYS[3])
"""

# ARGV: name.
_DELETE_CONTEXT = """
redis.call('ZREM', KEYS[4], ARGV[1])
return redis.call('HDEL', KEYS[3], ARGV[1])
"""

# ARGV: ttl_ms, max_thoughts, text.
_ADD_THOUGHT = """
redis.call('LPUSH', KEYS[5], ARGV[3])
redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[2]) - 1)
touch(tonumber(ARGV[1]))
return 1
"""

# ARGV: ttl_ms, goal id ('' clears it).
_SET_ACTIVE_GOAL = """
if ARGV[2] == '' then redis.call('DEL', KEYS[6]) else redis.call('SET', KEYS[6], ARGV[2]) end
touch(tonumber(ARGV[1]))
return 1
"""


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _utf8(text: str, what: str) -> str:
    """`text`, or ValidationError if Redis could not encode it (lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{what} is not valid Unicode text (it contains lone surrogates)") from None
    return text


def _dumps(value: Any, what: str) -> str:
    try:
        text = json.dumps(value, default=_json_default, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(f"{what} must be JSON-serialisable: {type(exc).__name__}: {exc}") from None
    return _utf8(text, what)


def _registry_key(redis: RedisStore, user_id: str) -> str:
    return redis.key("wm", user_id, "keys")


class WorkingMemory:
    """Working memory of one user's conversation; all keys expire `ttl_s` after the last write.

    Calling it gives the working memory of another conversation of the same user: `memory.working("c2")`
    (`memory.working()` is the current one). Built without a conversation, every read and write raises
    ValidationError until it is called with one.
    """

    PARTS = ("turns", "ctx", "ctx_exp", "thoughts", "goal")

    def __init__(
        self,
        redis: RedisStore,
        user_id: str,
        conversation_id: str | None,
        *,
        max_turns: int,
        ttl_s: int,
        max_thoughts: int = DEFAULT_MAX_THOUGHTS,
    ) -> None:
        if max_turns < 1 or ttl_s < 1 or max_thoughts < 1:
            raise ValueError("max_turns, ttl_s and max_thoughts must be at least 1")
        self.redis = redis
        self.user_id = user_id
        self.conversation_id = conversation_id
        self.max_turns = max_turns
        self.max_thoughts = max_thoughts
        self._ttl_s = ttl_s
        self._ttl_ms = ttl_s * 1000
        self._conversation_keys = (
            None
            if conversation_id is None
            else [
                _registry_key(redis, user_id),
                *(redis.key("wm", user_id, conversation_id, part) for part in self.PARTS),
            ]
        )

    def __call__(self, conversation_id: str | None = None) -> "WorkingMemory":
        """The working memory of `conversation_id` (default: this one's conversation), same user and limits."""
        conv = conversation_id or self.conversation_id
        if not conv:
            raise ValidationError("no conversation: pass conversation_id here or to AgentMemory(...)")
        if conv == self.conversation_id:
            return self
        return WorkingMemory(
            self.redis, self.user_id, conv, max_turns=self.max_turns, ttl_s=self._ttl_s, max_thoughts=self.max_thoughts
        )

    @property
    def _keys(self) -> list[str]:
        if self._conversation_keys is None:
            raise ValidationError("no conversation: pass conversation_id here or to AgentMemory(...)")
        return self._conversation_keys

    def key(self, part: str) -> str:
        """The Redis key of one part of this conversation's working memory (one of PARTS)."""
        return self._keys[1 + self.PARTS.index(part)]

    def _run(self, body: str, *args: Any) -> Any:
        script = self.redis.client.register_script(_LUA_PRELUDE + body)
        return script(keys=self._keys, args=list(args))

    # ---- turns ---------------------------------------------------------------------------------
    def push_turns(self, turns: list[dict[str, Any]]) -> int:
        """Add turns (dicts with id, index, role, content, timestamp); returns how many were new.

        The list keeps the `max_turns` highest indexes, newest first; a turn id already present is skipped.
        """
        for turn in turns:
            if not isinstance(turn.get("id"), str) or not isinstance(turn.get("index"), int):
                raise ValidationError("a working-memory turn needs a string 'id' and an integer 'index'")
        args: list[Any] = []
        for turn in sorted(turns, key=lambda t: t["index"]):
            args += [turn["id"], turn["index"], _dumps(turn, "a working-memory turn")]
        if not args:
            return 0
        return int(self._run(_PUSH_TURNS, self.max_turns, self._ttl_ms, *args))

    def recent_turns(self, n: int | None = None) -> list[dict[str, Any]]:
        """The last `n` turns kept (default: all of them), oldest first."""
        n = self.max_turns if n is None else min(n, self.max_turns)
        if n <= 0:
            return []
        raw = self.redis.client.lrange(self.key("turns"), 0, n - 1)
        return [json.loads(r) for r in reversed(raw)]

    def get_recent_turns(self, limit: int | None = None) -> list[Turn]:
        """The last `limit` turns kept (default: all of them, at most `max_turns`), oldest first, as Turns."""
        turns = self.recent_turns(limit)  # ValidationError without a conversation
        conversation_id = self.conversation_id
        assert conversation_id is not None  # recent_turns raised otherwise
        return [
            Turn(
                id=t["id"],
                conversation_id=conversation_id,
                index=t["index"],
                role=t["role"],
                content=t["content"],
                timestamp=t.get("timestamp"),
                token_count=t.get("token_count", estimate_tokens(t["content"])),
            )
            for t in turns
        ]

    # ---- context -------------------------------------------------------------------------------
    def set_context(self, key: str, value: Any, ttl_s: float = 3600) -> None:
        """Set a context entry (a JSON-serialisable value) that expires `ttl_s` seconds from now."""
        if not isinstance(key, str) or not key:
            raise ValidationError("a working-context key must be a non-empty string")
        _utf8(key, "a working-context key")
        if isinstance(ttl_s, bool) or not isinstance(ttl_s, int | float) or not math.isfinite(ttl_s):
            raise ValidationError(f"a working-context TTL must be a finite number of seconds, got {ttl_s!r}")
        entry_ttl_ms = int(ttl_s * 1000)
        if entry_ttl_ms < 1:
            raise ValidationError("a working-context TTL must be positive")
        self._run(_SET_CONTEXT, self._ttl_ms, key, _dumps(value, f"working-context value {key!r}"), entry_ttl_ms)

    def get_context(self) -> dict[str, Any]:
        """The unexpired context entries."""
        flat = self._run(_GET_CONTEXT)
        return {flat[i].decode(): json.loads(flat[i + 1]) for i in range(0, len(flat), 2)}

    def delete_context(self, key: str) -> bool:
        """Remove one context entry; True if it existed."""
        return bool(self._run(_DELETE_CONTEXT, key))

    # ---- thoughts and goal ---------------------------------------------------------------------
    def add_thought(self, text: str) -> None:
        """Record an agent thought; the newest `max_thoughts` are kept."""
        if not isinstance(text, str) or not text.strip():
            raise ValidationError("a thought must be a non-empty string")
        _utf8(text, "a thought")
        self._run(_ADD_THOUGHT, self._ttl_ms, self.max_thoughts, text)

    def thoughts(self, n: int = 20) -> list[str]:
        """The last `n` thoughts, oldest first."""
        if n <= 0:
            return []
        return [as_str(t) for t in reversed(self.redis.client.lrange(self.key("thoughts"), 0, n - 1))]

    def set_active_goal(self, goal_id: str | None) -> None:
        """Set the goal the agent is working on now (None clears it)."""
        if goal_id is not None and (not isinstance(goal_id, str) or not goal_id):
            raise ValidationError("an active goal id must be a non-empty string or None")
        self._run(_SET_ACTIVE_GOAL, self._ttl_ms, goal_id or "")

    def active_goal(self) -> str | None:
        """The active goal id, if any."""
        raw = self.redis.client.get(self.key("goal"))
        return None if raw is None else as_str(raw)

    # ---- erasure -------------------------------------------------------------------------------
    def clear(self) -> int:
        """Delete this conversation's working memory; returns the number of keys deleted."""
        conv_keys = self._keys[1:]
        pipe = self.redis.client.pipeline(transaction=True)
        pipe.delete(*conv_keys)
        pipe.srem(self._keys[0], *conv_keys)
        deleted, _ = pipe.execute()
        return int(deleted)


def forget_user(redis: RedisStore, user_id: str) -> int:
    """Delete every working-memory key of `user_id` (all conversations); returns how many existed.

    Keys are removed from the registry as they are deleted (an empty set vanishes), and the loop runs
    until the registry is empty, so a conversation written concurrently is not left behind unregistered.
    """
    registry = _registry_key(redis, user_id)
    deleted = 0
    # with a count, SRANDMEMBER replies with a list (redis-py types every form of the reply)
    while keys := [as_str(k) for k in cast(list[bytes], redis.client.srandmember(registry, _DELETE_BATCH))]:
        pipe = redis.client.pipeline(transaction=True)
        pipe.delete(*keys)
        pipe.srem(registry, *keys)
        deleted += int(pipe.execute()[0])
    return deleted
