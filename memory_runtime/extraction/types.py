"""What an extractor returns for one text: entities, facts and entity relations (plain, store-free data)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
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


class Extractor(Protocol):
    """What consolidation needs from an extractor (SpacyExtractor, LLMExtractor)."""

    def extract(self, texts: Sequence[str], roles: Sequence[str] | None = None) -> list[Extraction]:
        """One Extraction per text."""
        ...
