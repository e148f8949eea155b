"""What an extractor returns for one text: entities, facts and entity relations (plain, store-free data)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from memory_runtime.domain.models import FUNCTIONAL_PREDICATES as FUNCTIONAL_PREDICATES  # re-exported
from memory_runtime.domain.models import is_functional as is_functional  # re-exported

USER_SUBJECT = "user"  # the subject of every first-person fact ("I live in Paris" -> user lives_in Paris)


@dataclass(frozen=True)
class EntityMention:
    """A named entity found in a text; `label` is where the type came from (spaCy label, `rule` or `llm`)."""

    name: str
    type: str  # one of stores.graph.cypher.ENTITY_TYPES
    label: str

    @property
    def key(self) -> tuple[str, str]:
        """(type, normalised name): how mentions of one entity are grouped before resolution."""
        from memory_runtime.domain.ids import normalize_name

        return (self.type, normalize_name(self.name))


@dataclass(frozen=True)
class ExtractedFact:
    """A subject-predicate-object claim; `entities` are the mentions the fact is about."""

    subject: str  # USER_SUBJECT or an entity name
    predicate: str
    object: str
    claim: str
    confidence: float
    entities: tuple[EntityMention, ...] = ()
    negated: bool = False  # the speaker denies it ("I don't eat meat anymore"): invalidates the positive fact
    when: str | None = None  # the ISO date (or YYYY-MM) a plan or trip is for, resolved against the turn time
    rel_type: str | None = None  # the edge between the subject's and the object's entities (RELATION_TYPES)

    @property
    def functional(self) -> bool:
        """Whether this fact supersedes older facts with the same subject and predicate."""
        return is_functional(self.predicate)


@dataclass(frozen=True)
class ExtractedRelation:
    """A typed edge between two entity mentions (`rel_type` from ENTITY_RELATIONSHIPS)."""

    source: EntityMention
    target: EntityMention
    rel_type: str


@dataclass
class Extraction:
    """Everything extracted from one text."""

    text: str
    entities: list[EntityMention] = field(default_factory=list)
    facts: list[ExtractedFact] = field(default_factory=list)
    relations: list[ExtractedRelation] = field(default_factory=list)

    def add_entity(self, mention: EntityMention) -> EntityMention:
        """Add a mention unless one with the same key is already there; returns the stored mention."""
        for existing in self.entities:
            if existing.key == mention.key:
                return existing
        self.entities.append(mention)
        return mention


@dataclass(frozen=True)
class TurnInput:
    """One turn as extraction sees it: its text and role, and the context that resolves dates and pronouns.

    `speaker` is the human who said it when a chat has several (metadata `speaker`, e.g. from the
    sessions importer): a non-user turn with a speaker is that person talking, so its "I" is the speaker.
    Turns of one `conversation_id` given in order let "she" refer to the one person named just before.
    """

    text: str
    role: str = "user"
    timestamp: datetime | None = None
    speaker: str | None = None
    conversation_id: str | None = None


def as_turns(texts: Sequence[str], roles: Sequence[str] | None) -> list[TurnInput]:
    """TurnInputs for bare texts and roles (default all `user`), each its own context."""
    texts = list(texts)
    roles = list(roles) if roles is not None else ["user"] * len(texts)
    if len(roles) != len(texts):
        raise ValueError(f"got {len(texts)} texts but {len(roles)} roles")
    return [TurnInput(t, r) for t, r in zip(texts, roles, strict=True)]


class Extractor(Protocol):
    """What consolidation needs from an extractor (SpacyExtractor, LLMExtractor)."""

    def extract(self, texts: Sequence[str], roles: Sequence[str] | None = None) -> list[Extraction]:
        """One Extraction per text."""
        ...

    def extract_turns(self, turns: Sequence[TurnInput]) -> list[Extraction]:
        """One Extraction per turn, with dates resolved against each turn's timestamp."""
        ...
