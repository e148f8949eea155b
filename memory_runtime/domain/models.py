"""Pydantic v2 models of the public API: what agents pass in and get back."""

import math
from collections.abc import ItemsView, KeysView, ValuesView
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, overload

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from typing_extensions import TypedDict  # pydantic validates these on Python < 3.12 only in this form

from memory_runtime import tracing
from memory_runtime.domain import ids, validation
from memory_runtime.domain.errors import ValidationError
from memory_runtime.domain.vocabulary import FACT_PREDICATES
from memory_runtime.domain.vocabulary import entity_type as _canonical_entity_type

Role = Literal["user", "assistant", "system", "tool"]
FactSource = Literal["user_stated", "extraction", "inferred"]
GoalStatus = Literal["active", "completed", "abandoned", "blocked"]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
@overload
def utc(value: datetime | None) -> datetime | None: ...
def utc(value: datetime | None) -> datetime | None:
    """An aware UTC datetime (naive values are taken as UTC); ValidationError if UTC has no such year."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+05:00 is in year 0 in UTC
        raise ValidationError(f"{value.isoformat()} is outside the supported range (years 1 to 9999 in UTC)") from None


def now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


@overload
def to_ms(value: datetime) -> int: ...
@overload
def to_ms(value: None) -> None: ...
@overload
def to_ms(value: datetime | None) -> int | None: ...
def to_ms(value: datetime | None) -> int | None:
    """Epoch milliseconds (the graph's time representation), floored; exact integer arithmetic.

    Not `timestamp() * 1000`: float rounding turns 9999-12-31T23:59:59.9999 into year 10000 and can
    shift ordinary times by a millisecond.
    """
    return None if value is None else (utc(value) - _EPOCH) // _MS


@overload
def from_ms(value: int | float) -> datetime: ...
@overload
def from_ms(value: None) -> None: ...
@overload
def from_ms(value: int | float | None) -> datetime | None: ...
def from_ms(value: int | float | None) -> datetime | None:
    """Aware UTC datetime from epoch milliseconds."""
    return None if value is None else _EPOCH + timedelta(milliseconds=value)


def check_vector(vec: list[float] | None, what: str = "embedding") -> list[float] | None:
    """Reject NaN/inf and empty vectors (dimension is checked against the settings by the writer)."""
    if vec is None:
        return None
    out = [float(x) for x in vec]
    if not out:
        raise ValueError(f"{what} is empty")
    if not all(math.isfinite(x) for x in out):
        raise ValueError(f"{what} contains NaN or infinite values")
    return out


def _non_blank_text(value: str) -> str:
    return validation.text(value, "text")


def _identifier(value: str) -> str:
    return validation.identifier(value, "identifier")


def _conversation_id(value: str) -> str:
    return validation.key(value, "conversation_id")


Text = Annotated[str, AfterValidator(_non_blank_text)]
Identifier = Annotated[str, AfterValidator(_identifier)]
ConversationId = Annotated[str, AfterValidator(_conversation_id)]
UtcDatetime = Annotated[datetime, AfterValidator(utc)]
Vector = Annotated[list[float], AfterValidator(check_vector)]


def _turn_client_id(value: str) -> str:
    return validation.key(value, "turn id")


class MappingAccess:
    """Read a model like the dict it replaced: `item["claim"]`, `item.get("claim")`, `"claim" in item`, keys().

    A mixin for pydantic models: `model_fields` (marked attr-defined below) is the model's.
    """

    def __getitem__(self, key: str) -> Any:
        if not isinstance(key, str) or key not in type(self).model_fields:  # type: ignore[attr-defined]
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """The field's value, or `default` for a name that is not a field."""
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in type(self).model_fields  # type: ignore[attr-defined]

    def keys(self) -> KeysView[str]:
        """The field names, so `dict(item)` and `{**item}` give the dict the item replaced."""
        return self._as_dict().keys()

    def values(self) -> ValuesView[Any]:
        """The field values, in field order."""
        return self._as_dict().values()

    def items(self) -> ItemsView[str, Any]:
        """(name, value) pairs, in field order."""
        return self._as_dict().items()

    def _as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in type(self).model_fields}  # type: ignore[attr-defined]


class _Model(MappingAccess, BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Turn(_Model):
    """One message of a conversation. `timestamp` is when it was said (defaults to now).

    `id` is the caller's id for the turn (unique per user; reusing it for another turn is a
    TurnIdConflictError), kept and returned on reads; without one it is uuid5(conversation_id, index),
    re-derived when either changes. The stores always key the turn by that uuid5 (`record_id`).
    `token_count` is the caller's count; reads return an estimate (`estimate_tokens`) when none was given.
    """

    # None only until `_v_id` derives the id: a constructed Turn always has a str id, so the field is typed str.
    id: Annotated[str, AfterValidator(_turn_client_id)] = Field(default=None, validate_default=False)  # type: ignore[assignment]
    conversation_id: ConversationId
    index: int = Field(ge=0, le=2**31 - 1)
    role: Role
    content: Text
    timestamp: UtcDatetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    embedding: Vector | None = None
    token_count: int | None = Field(default=None, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _v_id(self) -> "Turn":
        if self.id is None or "id" not in self.model_fields_set:
            # object.__setattr__: an assignment here would validate (and call this validator) again
            object.__setattr__(self, "id", self.record_id)
            self.model_fields_set.discard("id")
        return self

    @property
    def record_id(self) -> str:
        """The id every store keys this turn by: uuid5(conversation_id, index)."""
        return ids.turn_id(self.conversation_id, self.index)

    @property
    def client_id(self) -> str | None:
        """The caller's own id for this turn, if it gave one (an id equal to `record_id` is none)."""
        return None if self.id == self.record_id else self.id


class Entity(_Model):
    """A person, organisation, place, thing or concept the user talks about.

    What you pass to `upsert_entity` is name, type, aliases, description, attributes, salience (and
    optionally provenance); what it returns is the stored entity, with the fields the store sets: its `id`
    (derived from user, type and normalised name), `mention_count`, and the times.
    """

    id: str | None = None
    name: Identifier
    type: Annotated[str, AfterValidator(_canonical_entity_type)] = "Concept"
    aliases: list[str] = Field(default_factory=list)
    description: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    salience: float = Field(default=0.5, ge=0.0, le=1.0)
    mention_count: int | None = None
    source_turn_ids: list[str] = Field(default_factory=list)
    extractor_version: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None

    @field_validator("aliases")
    @classmethod
    def _v_aliases(cls, v: list[str]) -> list[str]:
        seen: dict[str, str] = {}
        for alias in v:
            _identifier(alias)
            seen.setdefault(ids.normalize_name(alias), alias.strip())
        return list(seen.values())


# Single-valued predicates: a newer object for the same (subject, predicate) supersedes the older fact.
# Everything else (likes, dislikes, uses, is_a, ...) is multi-valued.
FUNCTIONAL_PREDICATES: frozenset[str] = frozenset(p for p, functional in FACT_PREDICATES.items() if functional)


def is_functional(predicate: str) -> bool:
    """Whether a newer object for this (normalised) predicate replaces the older one (favorite_* too)."""
    return predicate in FUNCTIONAL_PREDICATES or predicate.startswith("favorite_")


class Fact(_Model):
    """A claim believed about the world, bi-temporal, with provenance.

    `learn_fact` returns the stored fact: its `id`, the system times (`created_at`, `updated_at`,
    `expired_at`) and the facts it supersedes or is superseded by, besides what was learnt.
    """

    id: str | None = None
    claim: Text
    confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    source: FactSource = "user_stated"
    entity_ids: list[str] = Field(default_factory=list)
    source_turn_ids: list[str] = Field(default_factory=list)
    valid_at: UtcDatetime | None = None
    invalid_at: UtcDatetime | None = None
    extractor_version: str | None = None
    # Optional structure: a fact about `subject` with a single-valued `predicate` (lives_in, works_for,
    # name_is, ...) supersedes the user's older valid facts with the same subject and predicate.
    subject: str | None = None
    predicate: str | None = None
    object: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    expired_at: UtcDatetime | None = None
    supersedes: list[str] = Field(default_factory=list)
    superseded_by: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _v_window(self) -> "Fact":
        if self.valid_at and self.invalid_at and self.invalid_at < self.valid_at:
            raise ValueError("invalid_at must not be before valid_at")
        return self


class Goal(_Model):
    """Something the user or agent is working towards (priority 5 = highest).

    `add_goal` and the goal reads return the stored goal: its `id`, `blocked_by` (the ids of its blockers
    that are still open) and the times.
    """

    id: str | None = None
    description: Text
    priority: int = Field(default=3, ge=1, le=5)
    status: GoalStatus = "active"
    parent_id: str | None = None
    blocked_by: list[str] = Field(default_factory=list)
    deadline: UtcDatetime | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    completed_at: UtcDatetime | None = None


class Strategy(_Model):
    """A way of solving a kind of task, with its track record."""

    description: Text
    task_type: Identifier
    tool_sequence: list[str] = Field(default_factory=list)
    success_count: int = Field(default=0, ge=0)
    failure_count: int = Field(default=0, ge=0)

    @property
    def success_rate(self) -> float:
        """Laplace-smoothed success rate in (0, 1)."""
        return (self.success_count + 1) / (self.success_count + self.failure_count + 2)


class Reflection(_Model):
    """An outcome to reflect on; `reflect()` queues it for the reflections asset."""

    outcome: Text
    success: bool | None = None
    conversation_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


def estimate_tokens(text: str) -> int:
    """Tokenizer-free token estimate: one token per 4 characters, rounded up (≈ GPT-style BPE on English)."""
    return -(-len(text) // 4)


class _Item(MappingAccess, BaseModel):
    """A result item: typed, and readable as the dict it replaced (see MappingAccess)."""

    model_config = ConfigDict(extra="forbid")


class TurnHit(_Item):
    """A turn `remember()` found. `id` is the caller's id of the turn if it gave one, else the stored id, which
    `source_turn_ids` always holds (facts name their source turns by it)."""

    id: str
    conversation_id: str
    index: int
    role: str
    content: str
    timestamp: datetime | None = None
    salience: float | None = None
    token_count: int
    score: float
    found_by: list[str] = Field(default_factory=list)
    source_turn_ids: list[str] = Field(default_factory=list)


class FactHit(_Item):
    """A fact `remember()` found, with its validity window and provenance."""

    id: str
    claim: str
    confidence: float | None = None
    source: str | None = None
    source_turn_ids: list[str] = Field(default_factory=list)
    valid_at: datetime | None = None
    invalid_at: datetime | None = None
    created_at: datetime | None = None
    expired_at: datetime | None = None
    extractor_version: str | None = None
    salience: float | None = None
    score: float
    found_by: list[str] = Field(default_factory=list)


class EntityHit(_Item):
    """An entity `remember()` (or an entity search) found."""

    id: str
    name: str
    type: str
    description: str | None = None
    aliases: list[str] = Field(default_factory=list)
    score: float
    found_by: list[str] = Field(default_factory=list)


class StrategyMatch(_Item):
    """A strategy with its track record; `score` (relevance × success rate) and the raw cosine `similarity`
    are set when it was ranked for a task (`what_worked_for`, `remember`)."""

    id: str
    description: str
    task_type: str
    tool_sequence: list[str] = Field(default_factory=list)
    success_count: int = 0
    failure_count: int = 0
    success_rate: float
    score: float | None = None
    similarity: float | None = None


class Neighbour(TypedDict):
    """An entity near another: `distance` hops away, reached over the relationship types `via`."""

    id: str
    name: str
    type: str
    description: str | None
    distance: int
    via: list[str]


class EntityGraph(_Item):
    """An entity and the entities within `depth` relations of it (`get_entity_graph`)."""

    entity: Entity
    depth: int
    neighbours: list[Neighbour] = Field(default_factory=list)


class ToolStats(TypedDict):
    """Usage of one tool: counts, observed success rate (successes / calls), mean latency, last use."""

    name: str
    usage_count: int
    success_count: int
    failure_count: int
    success_rate: float
    mean_latency_ms: float
    last_used_at: datetime | None


class UserContext(TypedDict):
    """What the user model knows about a user (empty sections and None when nothing yet)."""

    preferences: dict[str, Any]
    expertise: dict[str, Any]
    interests: list[str]
    summary: str | None
    updated_at: datetime | None


class MemoryBundle(BaseModel):
    """What remember() returns: ranked sections of typed items that also read as dicts (docs/architecture.md)."""

    model_config = ConfigDict(extra="forbid")

    query: str
    relevant_turns: list[TurnHit] = Field(default_factory=list)
    facts: list[FactHit] = Field(default_factory=list)
    entities: list[EntityHit] = Field(default_factory=list)
    strategies: list[StrategyMatch] = Field(default_factory=list)
    active_goals: list[Goal] = Field(default_factory=list)
    user_context: dict[str, Any] = Field(default_factory=dict)
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def is_empty(self) -> bool:
        """True when no section has anything."""
        return not (
            self.relevant_turns or self.facts or self.entities or self.strategies or self.active_goals
        ) and not any(self.user_context.get(k) for k in ("preferences", "expertise", "interests"))

    def _sections(self) -> list[tuple[str, list[str]]]:
        def when(value: Any) -> str:
            return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value or "")

        goals = [f"- [P{g.get('priority')}] {g.get('description')}" for g in self.active_goals]
        facts = [
            f"- {f.get('claim')} (confidence {float(f.get('confidence') or 0):.2f}"
            + (f", since {when(f['valid_at'])[:10]}" if f.get("valid_at") else "")
            + (f", until {when(f['invalid_at'])[:10]}" if f.get("invalid_at") else "")
            + ")"
            for f in self.facts
        ]
        entities = [
            f"- {e.get('name')} ({e.get('type')})" + (f": {e['description']}" if e.get("description") else "")
            for e in self.entities
        ]
        turns = [f"- [{when(t.get('timestamp'))}] {t.get('role')}: {t.get('content')}" for t in self.relevant_turns]
        strategies = [
            f"- {s.get('description')} (tools: {', '.join(s.get('tool_sequence') or []) or 'none'}; "
            f"success {float(s.get('success_rate') or 0):.0%})"
            for s in self.strategies
        ]
        ctx = self.user_context
        profile = [f"- prefers {k}: {v}" for k, v in (ctx.get("preferences") or {}).items()]
        profile += [f"- expertise in {k}: {v}" for k, v in (ctx.get("expertise") or {}).items()]
        profile += [f"- interested in {i}" for i in (ctx.get("interests") or [])]
        return [
            ("Active goals", goals),
            ("Known facts", facts),
            ("User profile", profile),
            ("Relevant past conversation", turns),
            ("Entities", entities),
            ("Strategies that worked", strategies),
        ]

    @tracing.traced("pack_context", result=lambda text: {"memory.context_chars": len(text)})
    def to_context_string(self, max_tokens: int = 1500) -> str:
        """Pack the best items of each section into `max_tokens` (estimated by `estimate_tokens`).

        Items are taken round-robin across sections in rank order, so one long section cannot starve
        the others; an item that does not fit is skipped, and the result never exceeds the budget.
        """
        if max_tokens <= 0:
            return ""
        sections = [(title, items) for title, items in self._sections() if items]
        chosen: dict[str, list[str]] = {title: [] for title, _ in sections}
        used = 0
        cursors = {title: 0 for title, _ in sections}
        progress = True
        while progress:
            progress = False
            for title, items in sections:
                i = cursors[title]
                if i >= len(items):
                    continue
                cursors[title] = i + 1
                progress = True
                header = 0 if chosen[title] else estimate_tokens(f"## {title}\n") + 1
                cost = estimate_tokens(items[i] + "\n") + header
                if used + cost <= max_tokens:
                    chosen[title].append(items[i])
                    used += cost
        blocks = [f"## {t}\n" + "\n".join(lines) for t, lines in chosen.items() if lines]
        text = "\n\n".join(blocks)
        while text and estimate_tokens(text) > max_tokens:  # separators can tip it over by a token
            text = text.rsplit("\n", 1)[0]
        return text
