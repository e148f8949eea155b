"""Request and response models of the REST API and the MCP tools, beside the domain models they reuse
(`Turn`, `Entity`, `Fact`, `Goal`, `MemoryBundle`, `StrategyMatch`, `ToolStats`, `UserContext`, `Neighbour`)."""

import math
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from memory_runtime.domain.models import Fact, FactHit, FactSource, Goal, GoalStatus, MemoryBundle, Turn

MAX_BATCH_TURNS = 1000


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Finite = Annotated[float, AfterValidator(_finite)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TurnBatch(_Request):
    """Turns to store in one all-or-nothing batch."""

    turns: list[Turn] = Field(min_length=1, max_length=MAX_BATCH_TURNS)


class WriteResultOut(BaseModel):
    """What store_turn(s) did: the stored turn ids in input order, how many were new, degraded stores."""

    turn_ids: list[str]
    inserted: int
    duplicates: int
    warnings: list[str] = Field(default_factory=list)


class RememberRequest(_Request):
    """A recall: hybrid search over the user's turns, facts, entities, strategies and goals."""

    query: str = Field(min_length=1, max_length=100_000, description="What to recall, in natural language.")
    top_k: int | None = Field(None, ge=1, le=200, description="Items per section; default MEMORY_DEFAULT_TOP_K.")
    time_window_hours: Finite | None = Field(None, gt=0, description="Only turns from the last N hours.")
    as_of: datetime | None = Field(None, description="Answer with the facts believed at this time (ISO 8601).")
    include_episodic: bool = True
    include_semantic: bool = True
    include_procedural: bool = True
    max_tokens: int | None = Field(
        None, ge=1, le=100_000, description="Also pack the bundle into a context string of at most this many tokens."
    )


class RememberResponse(BaseModel):
    """The ranked MemoryBundle, and the packed context string when max_tokens was given."""

    bundle: MemoryBundle
    context: str | None = None


class LearnFactRequest(_Request):
    """A fact to learn (bi-temporal, with provenance); subject/predicate/object let a newer fact supersede."""

    claim: str = Field(min_length=1, max_length=100_000)
    source: FactSource = "user_stated"
    confidence: Finite = Field(0.9, ge=0.0, le=1.0)
    entity_ids: list[str] = Field(default_factory=list, max_length=1000)
    source_turn_ids: list[str] = Field(default_factory=list, max_length=1000)
    valid_at: datetime | None = None
    invalid_at: datetime | None = None
    extractor_version: str | None = None
    subject: str | None = None
    predicate: str | None = None
    object: str | None = None
    supersedes: list[str] = Field(default_factory=list, max_length=1000)
    single_valued: bool | None = None


class FactList(BaseModel):
    """Facts with their provenance (source turns, extractor) and validity window."""

    facts: list[Fact]


class FactSearchResult(BaseModel):
    """Facts relevant to a query, best first."""

    facts: list[FactHit]


class InvalidateFactRequest(_Request):
    """When a fact stopped being true (default: now)."""

    at: datetime | None = None


class RelationRequest(_Request):
    """A whitelisted relationship between two of the user's entities."""

    source_id: str = Field(min_length=1, max_length=256)
    target_id: str = Field(min_length=1, max_length=256)
    type: str = Field(min_length=1, max_length=64, description="E.g. WORKS_FOR, KNOWS, LOCATED_IN, PART_OF.")
    properties: dict[str, Any] = Field(default_factory=dict)


class GoalList(BaseModel):
    """Goals, highest priority first."""

    goals: list[Goal]


class GoalStatusUpdate(_Request):
    """A goal's new status."""

    status: GoalStatus


class BlockerRequest(_Request):
    """The goal that blocks this one."""

    blocked_by_goal_id: str = Field(min_length=1, max_length=256)


class ToolUsageRequest(_Request):
    """One tool call of the agent, to audit and learn from."""

    tool_name: str = Field(min_length=1, max_length=256)
    tool_input: Any = None
    tool_output: Any = None
    success: bool
    latency_ms: Finite = Field(ge=0)
    turn_id: str | None = Field(None, max_length=256)
    conversation_id: str | None = Field(None, max_length=192)
    error: str | None = Field(None, max_length=100_000)


class IdResponse(BaseModel):
    """The id of what was stored."""

    id: str


class StrategyRequest(_Request):
    """A way of solving a kind of task; `success` counts one outcome of it."""

    description: str = Field(min_length=1, max_length=100_000)
    task_type: str = Field(min_length=1, max_length=256)
    tool_sequence: list[str] = Field(default_factory=list, max_length=100)
    success: bool | None = None


class OutcomeRequest(_Request):
    """One more success or failure."""

    success: bool


class PreferenceRequest(_Request):
    """A user preference's value (any JSON) and how sure we are of it."""

    value: Any
    confidence: Finite = Field(0.8, ge=0.0, le=1.0)


class TimelineEvent(BaseModel):
    """One event of the user's consolidated timeline (episode, fact, entity, goal, strategy, reflection)."""

    event_type: str
    ref_id: str
    conversation_id: str | None
    occurred_at: datetime
    summary: str
    metadata: dict[str, Any]
    recorded_at: datetime


class Timeline(BaseModel):
    """Timeline events, newest first."""

    events: list[TimelineEvent]


class RecentTurns(BaseModel):
    """The latest stored turns, oldest first."""

    turns: list[Turn]


class ForgetResult(BaseModel):
    """What forget_user removed, per store and kind."""

    user_id: str
    removed: dict[str, int]


class Whoami(BaseModel):
    """The tenant and key a request authenticated as."""

    tenant: str
    key_id: str
    admin: bool


class Health(BaseModel):
    """Liveness, or readiness with the state of every store."""

    status: str
    stores: dict[str, str] = Field(default_factory=dict)
