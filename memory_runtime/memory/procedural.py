"""Procedural memory: which tools a user's agent calls and how well they work, and strategies that worked.

Tool calls: Postgres `tool_invocations` is the audit of record. `record_tool_usage` commits the audit row
first (with the real turn index and conversation of the turn, looked up in `conversation_logs`), then
updates the user's `Tool` node in the graph (usage/success/failure counts, running mean latency,
last use) and links `(:Turn)-[:USED_TOOL]->(:Tool)` when the turn is projected. If that graph update
fails, the call raises `ToolProjectionError` (a `ProjectionError`) carrying the invocation id; the row is
durable and `reproject_tools()` rebuilds the Tool statistics from the audit log.

Strategies: one `Strategy` node per (task type, normalised description) of a user, with a deterministic
id, so learning the same strategy twice returns the same id. Its embedding is of "<task type>:
<description>". `what_worked_for(task)` ranks the user's strategies by relevance × Laplace success rate,
where relevance is the cosine similarity of the task to the strategy (clipped at 0), raised by
`TASK_TYPE_BOOST` (capped at 1) when the task text is exactly a task type name of the strategy.
"""

import math
import uuid
from collections.abc import Iterable
from typing import Any

import numpy as np
from pydantic import ValidationError as PydanticValidationError

from memory_runtime.domain import ids
from memory_runtime.domain.embedding_text import strategy_text
from memory_runtime.domain.errors import (
    ConversationOwnershipError,
    NotFoundError,
    ToolProjectionError,
    ValidationError,
)
from memory_runtime.domain.models import Strategy, StrategyMatch, ToolStats, from_ms, now, to_ms
from memory_runtime.domain.validation import MAX_ID_CHARS, identifier, json_text
from memory_runtime.memory import context_cache
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import procedural as q
from memory_runtime.stores.postgres import tools as pg_tools
from memory_runtime.stores.postgres import turns as pg_turns

TASK_TYPE_BOOST = 0.3  # added to the relevance of an exact task-type match (relevance is capped at 1)
MAX_TOP_K = 100
_OVERFETCH = 10  # vector candidates per requested result: the index spans every user's strategies
_MIN_CANDIDATES = 50
_MAX_CANDIDATES = 1000
# A JSON \u0000 escape (an odd number of backslashes before it): jsonb cannot store NUL characters.


def strategy_id(user_id: str, task_type: str, description: str) -> str:
    """Id of a user's strategy: one per normalised task type and normalised description."""
    return str(
        uuid.uuid5(
            uuid.NAMESPACE_URL,
            "\x1f".join(("strategy", user_id, ids.normalize_name(task_type), ids.normalize_name(description))),
        )
    )


def task_type_id(user_id: str, task_type: str) -> str:
    """Id of a user's TaskType node: one per normalised task type name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "\x1f".join(("task_type", user_id, ids.normalize_name(task_type)))))


def _strategy_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "description": row["description"],
        "task_type": row["task_type"],
        "tool_sequence": list(row["tool_sequence"] or []),
        "success_count": int(row["success_count"] or 0),
        "failure_count": int(row["failure_count"] or 0),
        "success_rate": float(row["success_rate"]),
    }


class ProceduralMemory:
    """Tools and strategies of one user; see the module docstring for the guarantees."""

    def __init__(self, stores: Stores, user_id: str) -> None:
        self.stores = stores
        self.user_id = user_id

    # ---- tools -----------------------------------------------------------------------------------
    def record_tool_usage(
        self,
        tool_name: str,
        tool_input: Any,
        tool_output: Any,
        success: bool,
        latency_ms: float,
        turn_id: str | None = None,
        *,
        conversation_id: str | None = None,
        error: str | None = None,
    ) -> str:
        """Audit one tool call in Postgres, then update the Tool node; returns the invocation id.

        With `turn_id`, the turn must be one of this user's stored turns (else NotFoundError, nothing
        written); its conversation and turn index are recorded. A `conversation_id` given alongside must
        match the turn's.
        """
        name = identifier(tool_name, "tool_name")
        if not isinstance(success, bool | np.bool_):
            raise ValidationError(f"success must be a bool, got {type(success).__name__}")
        success = bool(success)
        if isinstance(latency_ms, bool) or not isinstance(latency_ms, int | float | np.number):
            raise ValidationError(f"latency_ms must be a number, got {type(latency_ms).__name__}")
        latency = float(latency_ms)
        if not math.isfinite(latency) or latency < 0:
            raise ValidationError(f"latency_ms must be finite and >= 0, got {latency_ms!r}")
        input_json = json_text(tool_input, "tool_input")
        output_json = json_text(tool_output, "tool_output")
        if error is not None and (not isinstance(error, str) or "\x00" in error):
            raise ValidationError("error must be a string without NUL characters")
        if error is not None:
            json_text(error, "error")  # lone surrogates
        if conversation_id is not None:
            conversation_id = identifier(conversation_id, "conversation_id")
        turn_uuid = None if turn_id is None else self._turn_uuid(turn_id)

        invocation_id = ids.new_id()
        used_at = now()
        turn_index: int | None = None
        with self.stores.pg.connection() as conn:
            if turn_uuid is not None:
                turn = pg_turns.turn_position(conn, turn_uuid, self.user_id)
                if turn is None:
                    raise NotFoundError(f"no turn with id {turn_id!r} for this user; store the turn first")
                if conversation_id is not None and conversation_id != turn["conversation_id"]:
                    raise ValidationError(
                        f"turn {turn_id!r} belongs to conversation {turn['conversation_id']!r}, not {conversation_id!r}"
                    )
                conversation_id, turn_index = turn["conversation_id"], turn["turn_index"]
            elif conversation_id is not None:
                owner = pg_turns.conversation_owners(conn, [conversation_id]).get(conversation_id)
                if owner is not None and owner != self.user_id:
                    raise ConversationOwnershipError(
                        f"conversation {conversation_id!r} belongs to another user; use one of your own"
                    )
            pg_tools.insert_tool_invocation(
                conn,
                invocation_id=invocation_id,
                user_id=self.user_id,
                conversation_id=conversation_id,
                turn_id=turn_uuid,
                turn_index=turn_index,
                tool_name=name,
                input_json=input_json,
                output_json=output_json,
                success=success,
                latency_ms=latency,
                error=error,
                created_at=used_at,
            )

        graph = self.stores.graph
        try:
            graph.write(
                q.record_tool_usage(graph.dialect),
                {
                    "tool_id": ids.tool_id(self.user_id, name),
                    "user_id": self.user_id,
                    "name": name,
                    "success": success,
                    "latency_ms": latency,
                    "used_at": to_ms(used_at),
                    "turn_ids": [] if turn_uuid is None else [turn_uuid],
                    "now": to_ms(now()),
                },
            )
        except Exception as exc:  # noqa: BLE001 — the audit row is committed; report, never lose it
            raise ToolProjectionError("graph", [invocation_id], f"{type(exc).__name__}: {exc}") from exc
        return invocation_id

    @staticmethod
    def _turn_uuid(turn_id: Any) -> str:
        if not isinstance(turn_id, str):
            raise ValidationError(f"turn_id must be a string, got {type(turn_id).__name__}")
        try:
            return str(uuid.UUID(turn_id))
        except ValueError:
            raise NotFoundError(f"no turn with id {turn_id!r} (turn ids are UUIDs)") from None

    def get_tool_stats(self, tool_name: str | None = None) -> list[ToolStats]:
        """Per tool: name, usage/success/failure counts, success_rate, mean_latency_ms, last_used_at.

        `success_rate` is the observed rate (successes / calls); most used tools first. An unknown tool
        name gives an empty list.
        """
        name = None if tool_name is None else identifier(tool_name, "tool_name")
        graph = self.stores.graph
        rows = graph.read(q.tool_stats(graph.dialect), {"user_id": self.user_id, "name": name})
        out: list[ToolStats] = []
        for r in rows:
            used = int(r["usage_count"] or 0)
            ok = int(r["success_count"] or 0)
            out.append(
                {
                    "name": r["name"],
                    "usage_count": used,
                    "success_count": ok,
                    "failure_count": int(r["failure_count"] or 0),
                    "success_rate": ok / used if used else 0.0,
                    "mean_latency_ms": float(r["mean_latency_ms"] or 0.0),
                    "last_used_at": from_ms(r["last_used_at"]),
                }
            )
        return out

    def reproject_tools(self) -> int:
        """Rebuild this user's Tool statistics and USED_TOOL links from the audit log; returns #tools.

        The repair path after a ToolProjectionError. Totals overwrite the graph's counters, so run it when
        no tool calls of this user are being recorded concurrently.
        """
        totals = pg_tools.tool_totals(self.stores.pg, self.user_id)
        rows = [
            {
                "id": ids.tool_id(self.user_id, t["name"]),
                "name": t["name"],
                "usage_count": int(t["usage_count"]),
                "success_count": int(t["success_count"]),
                "failure_count": int(t["failure_count"]),
                "mean_latency_ms": float(t["mean_latency_ms"]),
                "last_used_at": to_ms(t["last_used_at"]),
                "turn_ids": list(t["turn_ids"]),
            }
            for t in totals
        ]
        if rows:
            graph = self.stores.graph
            graph.write(q.set_tool_stats(graph.dialect), {"rows": rows, "user_id": self.user_id, "now": to_ms(now())})
        return len(rows)

    # ---- strategies ------------------------------------------------------------------------------
    def learn_strategy(
        self,
        description: str,
        task_type: str,
        tool_sequence: Iterable[str] = (),
        success: bool | None = None,
    ) -> str:
        """Record a strategy for a task type (idempotent per task type + normalised description); its id.

        `success` counts one outcome; a non-empty `tool_sequence` replaces the stored one.
        """
        if isinstance(tool_sequence, str):
            raise ValidationError("tool_sequence must be a list of tool names, not a string")
        if success is not None and not isinstance(success, bool | np.bool_):
            raise ValidationError(f"success must be a bool or None, got {type(success).__name__}")
        try:
            strategy = Strategy(description=description, task_type=task_type, tool_sequence=list(tool_sequence))
        except PydanticValidationError as exc:
            raise ValidationError(f"invalid strategy: {exc.errors()[0]['msg']}") from None
        if len(strategy.description) > self.stores.settings.max_content_chars:
            raise ValidationError(
                f"description has {len(strategy.description)} characters; the limit is "
                f"MEMORY_MAX_CONTENT_CHARS={self.stores.settings.max_content_chars}"
            )
        tools = [identifier(t, "tool_sequence item") for t in strategy.tool_sequence]
        sid = strategy_id(self.user_id, strategy.task_type, strategy.description)
        [embedding] = self.stores.embedder.embed([strategy_text(strategy.task_type, strategy.description)])
        graph = self.stores.graph
        graph.write(
            q.learn_strategy(graph.dialect),
            {
                "id": sid,
                "user_id": self.user_id,
                "description": strategy.description,
                "norm_description": ids.normalize_name(strategy.description),
                "task_type_id": task_type_id(self.user_id, strategy.task_type),
                "task_type": strategy.task_type,
                "norm_task_type": ids.normalize_name(strategy.task_type),
                "tool_sequence": tools,
                "embedding": embedding,
                "successes": int(success is True),
                "failures": int(success is False),
                "now": to_ms(now()),
            },
        )
        context_cache.changed(self.stores, self.user_id)
        return sid

    def reinforce_strategy(self, strategy_id: str, success: bool) -> StrategyMatch:
        """Count one success or failure of a strategy; returns its updated counts and success_rate."""
        if not isinstance(strategy_id, str) or not strategy_id:
            raise ValidationError("strategy_id must be a non-empty string")
        if not isinstance(success, bool | np.bool_):
            raise ValidationError(f"success must be a bool, got {type(success).__name__}")
        graph = self.stores.graph
        rows = graph.write(
            q.reinforce_strategy(graph.dialect),
            {
                "id": strategy_id,
                "user_id": self.user_id,
                "successes": int(bool(success)),
                "failures": int(not success),
                "now": to_ms(now()),
            },
        )
        if not rows:
            raise NotFoundError(f"no strategy with id {strategy_id!r} for this user")
        return StrategyMatch(**_strategy_row(rows[0]))

    def what_worked_for(
        self, task: str, top_k: int = 5, *, query_vector: list[float] | None = None
    ) -> list[StrategyMatch]:
        """This user's strategies for `task`, best first: id, description, task_type, tool_sequence,
        success_rate, score (plus success/failure counts and the raw cosine `similarity`); `query_vector`:
        the embedding of `task` when the caller has it already (remember() shares its own)."""
        if not isinstance(task, str) or not task.strip():
            raise ValidationError("task must be a non-empty string")
        try:
            task.encode("utf-8")  # task_type_id() hashes it
        except UnicodeEncodeError:
            raise ValidationError("task is not valid Unicode text (it contains lone surrogates)") from None
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
            raise ValidationError(f"top_k must be an integer from 1 to {MAX_TOP_K}")
        [qvec] = [query_vector] if query_vector is not None else self.stores.embedder.embed([task])
        graph = self.stores.graph
        k = min(max(top_k * _OVERFETCH, _MIN_CANDIDATES), _MAX_CANDIDATES)
        candidates: dict[str, dict[str, Any]] = {}
        for r in graph.read(q.similar_strategies(graph.dialect), {"k": k, "vec": qvec, "user_id": self.user_id}):
            row = _strategy_row(r)
            row["similarity"] = 2.0 * float(r["score"]) - 1.0  # index score (1 + cos) / 2 back to cosine
            candidates[row["id"]] = row
        exact: set[str] = set()
        missing: dict[str, dict[str, Any]] = {}  # strategies the vector search did not reach, scored exactly
        if len(task) <= MAX_ID_CHARS:
            same_type = graph.read(
                q.strategies_for_task_type(graph.dialect),
                {"task_type_id": task_type_id(self.user_id, task), "user_id": self.user_id, "limit": k},
            )
            exact = {r["id"] for r in same_type}
            missing |= {r["id"]: _strategy_row(r) for r in same_type if r["id"] not in candidates}
        if len(candidates) < top_k:
            # The index spans every user: other users' (even identical) strategies can crowd this user's out
            # of the k nearest. A user has few strategies, so score the rest of them exactly.
            rows = graph.read(q.user_strategies(graph.dialect), {"user_id": self.user_id, "limit": _MAX_CANDIDATES})
            missing |= {r["id"]: _strategy_row(r) for r in rows if r["id"] not in candidates and r["id"] not in missing}
        if missing:  # same text, same vector as in the index
            rows = list(missing.values())
            vecs = self.stores.embedder.embed([strategy_text(m["task_type"], m["description"]) for m in rows])
            for row, vec in zip(rows, vecs, strict=True):
                row["similarity"] = _cosine(qvec, vec)
                candidates[row["id"]] = row
        ranked = []
        for row in candidates.values():
            relevance = max(row["similarity"], 0.0)
            if row["id"] in exact:
                relevance = min(1.0, relevance + TASK_TYPE_BOOST)
            row["score"] = relevance * row["success_rate"]
            if row["score"] > 0:
                ranked.append(row)
        ranked.sort(key=lambda r: (-r["score"], -r["success_rate"], r["id"]))
        return [StrategyMatch(**r) for r in ranked[:top_k]]

    def has_strategies(self) -> bool:
        """Whether the user has any strategy at all."""
        graph = self.stores.graph
        return bool(graph.read(q.user_strategies(graph.dialect), {"user_id": self.user_id, "limit": 1}))

    def find_strategies(self, task: str, top_k: int = 5) -> list[StrategyMatch]:
        """The design's name for `what_worked_for`: this user's strategies for `task`, best first."""
        return self.what_worked_for(task, top_k=top_k)


def _cosine(a: list[float], b: list[float]) -> float:
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = float(np.linalg.norm(va) * np.linalg.norm(vb))
    return float(va @ vb) / denom if denom else 0.0
