"""Entity resolution within one user's scope: every mention becomes an entity id, and every merge is recorded.

A mention of type T resolves, in this order, to
1. an entity of type T whose normalised name or alias equals the mention's (`ids.normalize_name`): the same
   entity, no merge;
2. for Person and Organization only, the single entity of type T that it is a token subset of, or that is
   a token subset of it, with the same head (first) token — "Acme" / "Acme Corp" / "Acme Corporation",
   "Alice" / "Alice Smith". Company suffixes (Inc, Corp, LLC, ...) are ignored. Refused when two entities
   qualify or when a name of the entity contradicts the mention ("Alice Jones" against "Alice Smith");
3. the most similar entity of type T by name embedding, if cosine >= EMBEDDING_MERGE_THRESHOLD;
4. otherwise a new entity, id `ids.entity_id(user_id, T, name)`.
Rules 2 and 3 record a `Merge(kept_id, merged_name, reason)` and add the name as an alias, so the next
mention of it resolves by rule 1 and re-running a window records nothing new.

EMBEDDING_MERGE_THRESHOLD is 0.92: with the built-in hashing embedder only names with the same word and
character features reach it (accents and punctuation: "München" / "Munchen" score 1.0, while "Acme" /
"Acme Corp" score 0.64 and "New York" / "New York City" 0.78); with a semantic embedder it catches
spelling variants but not merely related names.
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from memory_runtime.domain import ids
from memory_runtime.extraction.types import EntityMention

EMBEDDING_MERGE_THRESHOLD = 0.92
TOKEN_RULE_TYPES = frozenset({"Person", "Organization"})
ORG_SUFFIXES = frozenset("inc corp corporation co company ltd limited llc gmbh ag sa plc group holdings".split())
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class NameEmbedder(Protocol):
    """Anything with `embed(texts) -> vectors` (stores.embedder)."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text."""
        ...


@dataclass(frozen=True)
class Merge:
    """A mention folded into an existing entity: which entity was kept, the name merged in, and why."""

    kept_id: str
    merged_name: str
    reason: str


@dataclass
class KnownEntity:
    """An entity of the user (existing or created during this run) with every name it answers to."""

    id: str
    name: str
    type: str
    aliases: list[str] = field(default_factory=list)
    new: bool = False

    def names(self) -> list[str]:
        """The name followed by the aliases."""
        return [self.name, *self.aliases]


@dataclass(frozen=True)
class Resolved:
    """Where a mention went: the entity, whether this mention created it, and the merge if any."""

    entity: KnownEntity
    created: bool
    merge: Merge | None = None


def fold(text: str) -> str:
    """Normalised name with accents removed (for token comparison)."""
    text = unicodedata.normalize("NFKD", ids.normalize_name(text))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def name_tokens(name: str, type_: str) -> tuple[str, ...]:
    """Word tokens of a name; company suffixes are dropped for organisations."""
    toks = tuple(_WORD.findall(fold(name)))
    if type_ == "Organization":
        core = tuple(t for t in toks if t not in ORG_SUFFIXES)
        return core or toks
    return toks


def _comparable(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Same head token and one token set contains the other."""
    if not a or not b or a[0] != b[0]:
        return False
    sa, sb = set(a), set(b)
    return sa <= sb or sb <= sa


class EntityResolver:
    """Resolves mentions of one user against their entities; see the module docstring for the rules."""

    def __init__(
        self,
        user_id: str,
        existing: Iterable[KnownEntity] = (),
        embedder: NameEmbedder | None = None,
        threshold: float = EMBEDDING_MERGE_THRESHOLD,
    ) -> None:
        self.user_id = user_id
        self.embedder = embedder
        self.threshold = threshold
        self.merges: list[Merge] = []
        self.created: list[KnownEntity] = []
        self._by_id: dict[str, KnownEntity] = {}
        self._by_norm: dict[tuple[str, str], KnownEntity] = {}
        self._by_head: dict[tuple[str, str], set[str]] = {}
        self._vectors: dict[str, tuple[list[str], np.ndarray]] = {}  # type -> (ids, unit-norm rows)
        self._pending: dict[str, list[KnownEntity]] = {}  # type -> entities not yet embedded
        self._name_vec: dict[str, np.ndarray] = {}
        for entity in existing:
            self._add(entity)

    # ---- index ---------------------------------------------------------------------------------------
    def _index_name(self, entity: KnownEntity, name: str) -> None:
        self._by_norm.setdefault((entity.type, ids.normalize_name(name)), entity)
        self._by_norm.setdefault((entity.type, fold(name)), entity)
        toks = name_tokens(name, entity.type)
        if toks and entity.type in TOKEN_RULE_TYPES:
            self._by_head.setdefault((entity.type, toks[0]), set()).add(entity.id)

    def _add(self, entity: KnownEntity) -> None:
        self._by_id[entity.id] = entity
        for name in entity.names():
            self._index_name(entity, name)
        self._pending.setdefault(entity.type, []).append(entity)

    def _alias(self, entity: KnownEntity, name: str) -> None:
        entity.aliases.append(name)
        self._index_name(entity, name)

    # ---- rules ---------------------------------------------------------------------------------------
    def _token_match(self, name: str, type_: str) -> KnownEntity | None:
        toks = name_tokens(name, type_)
        if type_ not in TOKEN_RULE_TYPES or not toks:
            return None
        found: list[KnownEntity] = []
        for eid in sorted(self._by_head.get((type_, toks[0]), ())):
            entity = self._by_id[eid]
            forms = [name_tokens(n, type_) for n in entity.names()]
            if any(_comparable(toks, f) for f in forms) and all(
                _comparable(toks, f) for f in forms if f and f[0] == toks[0]
            ):
                found.append(entity)
        return found[0] if len(found) == 1 else None

    def _vectors_for(self, names: list[str]) -> np.ndarray:
        """Unit-norm name vectors, embedding each distinct name once per resolver."""
        assert self.embedder is not None
        missing = list(dict.fromkeys(n for n in names if n not in self._name_vec))
        if missing:
            rows = _unit(np.asarray(self.embedder.embed(missing), dtype=np.float32))
            self._name_vec.update(zip(missing, rows, strict=True))
        return np.stack([self._name_vec[n] for n in names])

    def _embedding_match(self, name: str, type_: str) -> tuple[KnownEntity, float] | None:
        if self.embedder is None:
            return None
        pending = self._pending.pop(type_, [])
        known_ids, matrix = self._vectors.get(type_, ([], np.zeros((0, 0), dtype=np.float32)))
        if pending:
            rows = self._vectors_for([e.name for e in pending])
            matrix = rows if not known_ids else np.vstack([matrix, rows])
            known_ids = known_ids + [e.id for e in pending]
            self._vectors[type_] = (known_ids, matrix)
        if not known_ids:
            return None
        sims = matrix @ self._vectors_for([name])[0]
        best = int(np.argmax(sims))
        score = float(sims[best])
        return (self._by_id[known_ids[best]], score) if score >= self.threshold else None

    def prime(self, mentions: Iterable[EntityMention]) -> None:
        """Embed, in one call, the names that the name and alias rules cannot resolve (optional)."""
        if self.embedder is None:
            return
        names = [
            m.name
            for m in mentions
            if (m.type, ids.normalize_name(m.name)) not in self._by_norm and (m.type, fold(m.name)) not in self._by_norm
        ]
        if names:
            self._vectors_for(names)

    def resolve(self, mention: EntityMention) -> Resolved:
        """The entity for `mention` (existing, merged into, or new)."""
        type_, norm = mention.type, ids.normalize_name(mention.name)
        hit = self._by_norm.get((type_, norm)) or self._by_norm.get((type_, fold(mention.name)))
        if hit is not None:
            return Resolved(hit, created=False)
        target = self._token_match(mention.name, type_)
        reason = "token_subset"
        if target is None:
            scored = self._embedding_match(mention.name, type_)
            if scored is not None:
                target, reason = scored[0], f"embedding:{scored[1]:.3f}"
        if target is not None:
            merge = Merge(target.id, mention.name, reason)
            self.merges.append(merge)
            self._alias(target, mention.name)
            return Resolved(target, created=False, merge=merge)
        entity = KnownEntity(ids.entity_id(self.user_id, type_, mention.name), mention.name, type_, new=True)
        self._add(entity)
        self.created.append(entity)
        return Resolved(entity, created=True)


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: np.ndarray = rows / norms
    return unit
