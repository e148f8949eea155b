"""Semantic memory: entities, bi-temporal facts and the relations between entities, in the graph.

Decisions (docs/architecture.md, "Facts over time"; the Cypher is in `stores/graph/queries/semantic.py`):

* Entities are keyed by `ids.entity_id(user, type, name)`, so upserting the same normalised name and
  type is idempotent. An upsert whose name is already an alias of an entity of the same type lands on
  that entity instead of creating a duplicate. Aliases are a union deduplicated by `normalize_name`;
  a new description replaces the old one, a missing one keeps it; salience only rises (max) and every
  upsert counts a mention. `attributes` are stored as one JSON text property, shallow-merged (new keys
  win). The embedding covers name + aliases + description as they will be after the upsert.
* A fact is written by one statement that first checks every referenced entity (and every fact in
  `supersedes`) exists for this user — otherwise nothing is written and NotFoundError names the
  missing ids.
* Dedup: learning a claim whose normalised text equals a *current* fact of the user (validity window
  open now) reinforces that fact — confidence becomes the max, source turns are unioned, valid_at
  becomes the earlier one — and returns its id. `invalid_at` of a repeated claim is ignored.
* Contradiction: a fact with subject, predicate and object of a single-valued predicate (see
  `is_functional`, or `single_valued=True`) supersedes the user's facts with the same
  normalised subject and predicate and another object whose validity window is open at the new fact's
  valid_at; `supersedes=[ids]` names facts to supersede explicitly. The old fact gets
  `invalid_at = new.valid_at`, `expired_at = now` and `(new)-[:SUPERSEDES]->(old)`; it is never
  deleted. If the conflicting fact began *after* the new one (a backfill learning history out of
  order), the new fact is the one closed, at the later fact's valid_at.
* `valid_at`/`invalid_at` are world time (when it was true), `created_at`/`expired_at` system time
  (when we learnt it / recorded its end). A fact is *current* while `invalid_at` is unset or in the
  future.
* Relationship properties are stored flat: scalars (str, int, float, bool) and homogeneous flat lists
  of them (ints and floats mixed become floats); `None` removes a property. Nested dicts, lists of
  dicts and mixed lists are rejected with ValidationError (serialise them to a JSON string yourself).
  `created_at` / `updated_at` on a relationship are maintained by the runtime.
* Every read and write is scoped by user_id: another user's ids behave exactly like unknown ids.
"""

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pydantic

from memory_runtime.domain import ids
from memory_runtime.domain.embedding_text import entity_text
from memory_runtime.domain.errors import NotFoundError, ValidationError
from memory_runtime.domain.models import (
    Entity,
    EntityGraph,
    EntityHit,
    Fact,
    FactHit,
    FactSource,
    Neighbour,
    from_ms,
    is_functional,
    now,
    to_ms,
    utc,
)
from memory_runtime.domain.vocabulary import entity_type as canonical_entity_type
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.cypher import entity_rel_type
from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.queries import semantic as q
from memory_runtime.stores.postgres import locks as pg_locks

_PROPERTY_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_RESERVED_REL_KEYS = frozenset({"created_at", "updated_at"})
_INT64 = (-(2**63), 2**63 - 1)
_FACT_TIMES = ("valid_at", "invalid_at", "created_at", "updated_at", "expired_at")
_ENTITY_TIMES = ("created_at", "updated_at")
MAX_LIMIT = 10_000


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _ids(values: Iterable[Any] | None, what: str) -> list[str]:
    """A deduplicated list of non-blank string ids (order kept)."""
    if values is None:
        return []
    if isinstance(values, str):
        raise ValidationError(f"{what} must be a list of ids, not a single string")
    out = []
    for v in values:
        if not isinstance(v, str) or not v.strip():
            raise ValidationError(f"{what} must contain non-empty string ids, got {v!r}")
        out.append(v)
    return _unique(out)


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be an integer between 1 and {MAX_LIMIT}, got {limit!r}")
    return limit


def _pydantic_message(exc: pydantic.ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors())


def _scalar(value: Any, where: str) -> Any:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise ValidationError(f"{where} does not fit a 64-bit integer")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{where} must be a finite number")
        return value
    raise ValidationError(
        f"{where} has unsupported type {type(value).__name__}; relationship properties are str, int, "
        f"float, bool or flat lists of one of them (store nested data as a JSON string, times as epoch ms)"
    )


def flat_properties(properties: Mapping[str, Any] | None, what: str = "property") -> dict[str, Any]:
    """Properties a graph element can store: scalars and homogeneous flat lists; None removes a key."""
    if properties is None:
        return {}
    if not isinstance(properties, Mapping):
        raise ValidationError(f"{what} properties must be a mapping, got {type(properties).__name__}")
    out: dict[str, Any] = {}
    for key, value in properties.items():
        if not isinstance(key, str) or not _PROPERTY_KEY.match(key):
            raise ValidationError(
                f"{what} property name {key!r} must be letters, digits and underscores (max 64), "
                f"not starting with a digit"
            )
        if key in _RESERVED_REL_KEYS:
            raise ValidationError(f"{what} property {key!r} is maintained by the runtime; use another name")
        where = f"{what} property {key!r}"
        if value is None or not isinstance(value, list | tuple):
            out[key] = None if value is None else _scalar(value, where)
            continue
        items = [_scalar(v, f"an item of {where}") for v in value]
        kinds = {bool if isinstance(v, bool) else str if isinstance(v, str) else float for v in items}
        if len(kinds) > 1:
            raise ValidationError(f"{where} mixes item types; lists must hold one type (numbers, str or bool)")
        if float in kinds and any(isinstance(v, float) for v in items):
            items = [float(v) for v in items]  # [1, 2.5] is one numeric type for both backends
        out[key] = items
    return out


def _entity_row(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for k in _ENTITY_TIMES:
        out[k] = from_ms(out.get(k))
    out["aliases"] = list(out.get("aliases") or [])
    out["source_turn_ids"] = list(out.get("source_turn_ids") or [])
    out["attributes"] = json.loads(out["attributes"]) if out.get("attributes") else {}
    return out


def _fact_row(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for k in _FACT_TIMES:
        out[k] = from_ms(out.get(k))
    for k in ("source_turn_ids", "entity_ids", "supersedes", "superseded_by"):
        out[k] = sorted(out.get(k) or []) if k != "source_turn_ids" else list(out.get(k) or [])
    return out


def _stored_fact(row: dict[str, Any]) -> Fact:
    fact = _fact_row(row)
    for outcome in ("reinforced", "superseded"):  # what learn_fact did, not part of the fact
        fact.pop(outcome, None)
    return Fact(**fact)


class SemanticMemory:
    """Entities, facts and entity relations of one user (see the module docstring for the rules)."""

    def __init__(self, stores: Stores, user_id: str) -> None:
        self.stores = stores
        self.user_id = user_id

    # ---- plumbing --------------------------------------------------------------------------------
    @property
    def _dialect(self) -> Dialect:
        return self.stores.graph.dialect

    def _read(self, cypher: str, **params: Any) -> list[dict[str, Any]]:
        return self.stores.graph.read(cypher, {"user_id": self.user_id, **params})

    def _write(self, cypher: str, **params: Any) -> list[dict[str, Any]]:
        return self.stores.graph.write(cypher, {"user_id": self.user_id, **params})

    def _missing(self, node_label: str, wanted: Sequence[str]) -> list[str]:
        if not wanted:
            return []
        rows = self._read(q.existing_ids(self._dialect, node_label=node_label), ids=list(wanted))
        found = {r["id"] for r in rows}
        return [i for i in wanted if i not in found]

    def _embed(self, text: str) -> list[float]:
        return [float(x) for x in self.stores.embedder.embed([text])[0]]

    def _check_text(self, text: str | None, what: str) -> None:
        limit = self.stores.settings.max_content_chars
        if text is not None and len(text) > limit:
            raise ValidationError(f"{what} has {len(text)} characters; the limit is MEMORY_MAX_CONTENT_CHARS={limit}")

    # ---- entities --------------------------------------------------------------------------------
    def upsert_entity(
        self,
        entity: Entity,
        *,
        source_turn_ids: Sequence[str] | None = None,
        extractor_version: str | None = None,
    ) -> Entity:
        """Create or update an entity (merged by normalised name + type, or by alias); returns it as stored.

        An `entity.id` (e.g. of an entity read back) must be the id the upsert lands on; provenance can come
        on the entity or as arguments (the turn ids are united, the argument's extractor version wins).
        """
        if not isinstance(entity, Entity):
            raise ValidationError(f"expected an Entity, got {type(entity).__name__}")
        norm_name = ids.normalize_name(entity.name)
        if not norm_name:
            raise ValidationError(f"entity name {entity.name!r} is empty once normalised")
        description = entity.description.strip() if entity.description else None
        self._check_text(description, "entity description")
        turn_ids = _ids([*entity.source_turn_ids, *(source_turn_ids or [])], "source_turn_ids")
        extractor_version = extractor_version or entity.extractor_version
        aliases = [
            {"name": a, "norm": n, "key": ids.alias_id(self.user_id, n)}
            for a in entity.aliases
            if (n := ids.normalize_name(a)) and n != norm_name
        ]
        try:
            new_attrs = json.loads(json.dumps(entity.attributes, allow_nan=False, ensure_ascii=False))
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValidationError(f"entity attributes are not JSON serialisable: {exc}") from None
        params: dict[str, Any] = {
            "id": ids.entity_id(self.user_id, entity.type, entity.name),
            "type": entity.type,
            "norm_name": norm_name,
            "alias_key": ids.alias_id(self.user_id, norm_name),
        }
        # Read what the upsert will merge into, so the embedding and attributes describe the result.
        current = next(iter(self._read(q.resolve_entity(self._dialect), **params)), None)
        target = current["id"] if current is not None else params["id"]
        if entity.id is not None and entity.id != target:
            raise ValidationError(
                f"entity id {entity.id!r} is not the entity {entity.name!r} ({entity.type}) resolves to "
                f"({target!r}); entity ids are derived from the user, type and name — leave id unset"
            )
        name, all_aliases, attributes = entity.name, [a["name"] for a in aliases], new_attrs
        if current is not None:
            name = current["name"]
            known = set(current.get("norm_aliases") or []) | {ids.normalize_name(name)}
            all_aliases = list(current.get("aliases") or []) + [a["name"] for a in aliases if a["norm"] not in known]
            description = description or current.get("description")
            attributes = {**json.loads(current.get("attributes") or "{}"), **new_attrs}
        embedding = self._embed(entity_text(name, all_aliases, description))
        rows = self._write(
            q.upsert_entity(self._dialect, type_name=entity.type),
            **params,
            name=entity.name,
            aliases=aliases,
            description=description,
            attributes=json.dumps(attributes, ensure_ascii=False) if attributes else None,
            salience=float(entity.salience),
            embedding=embedding,
            source_turn_ids=turn_ids,
            extractor_version=extractor_version,
            now=to_ms(now()),
        )
        return Entity(**_entity_row(rows[0]))

    def get_entity(self, entity_id: str) -> dict[str, Any]:
        """The entity as a dict (id, name, type, aliases, …); NotFoundError unless it is this user's."""
        rows = self._read(q.get_entity(self._dialect), id=entity_id)
        if not rows:
            raise NotFoundError(f"no entity {entity_id!r} for user {self.user_id!r}")
        return _entity_row(rows[0])

    def find_entities(self, name: str, *, entity_type: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Entities whose normalised name or alias equals `name` (exact-name matches first)."""
        if not isinstance(name, str):
            raise ValidationError(f"name must be a string, got {type(name).__name__}")
        norm = ids.normalize_name(name)
        if not norm:
            return []
        rows = self._read(
            q.find_entities(self._dialect),
            norm_name=norm,
            alias_key=ids.alias_id(self.user_id, norm),
            type=canonical_entity_type(entity_type) if entity_type is not None else None,
            limit=_limit(limit),
        )
        return [_entity_row(r) for r in rows]

    def relate(
        self, source_id: str, target_id: str, rel_type: str, properties: Mapping[str, Any] | None = None
    ) -> None:
        """MERGE a whitelisted relationship between two of the user's entities; repeat calls update it."""
        entity_rel_type(rel_type)  # InvalidRelationshipType before anything else
        props = flat_properties(properties, rel_type)
        rows = self._write(
            q.relate(self._dialect, rel_name=rel_type),
            source_id=source_id,
            target_id=target_id,
            props=props,
            now=to_ms(now()),
        )
        if not rows:
            missing = self._missing("Entity", _unique([source_id, target_id]))
            raise NotFoundError(
                f"cannot relate: no entity {', '.join(map(repr, missing or [source_id, target_id]))} "
                f"for user {self.user_id!r}"
            )

    def neighbours(self, entity_id: str, depth: int = 1, limit: int = 50) -> list[Neighbour]:
        """Entities within `depth` (1 or 2) relations of an entity: id, name, type, distance, via."""
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= q.MAX_NEIGHBOUR_DEPTH:
            raise ValidationError(f"depth must be 1 or {q.MAX_NEIGHBOUR_DEPTH}, got {depth!r}")
        rows = self._read(q.neighbours(self._dialect, depth=depth), entity_id=entity_id, limit=_limit(limit))
        if not rows:
            self.get_entity(entity_id)  # NotFoundError for unknown / foreign ids
        # the query returns exactly Neighbour's keys, which a type checker cannot see in a graph row
        return [{**r, "via": list(r.get("via") or [])} for r in rows]  # type: ignore[typeddict-item]

    def get_entity_graph(self, entity_id: str, depth: int = 1) -> EntityGraph:
        """An entity (as stored) and the entities within `depth` (1 or 2) relations of it."""
        entity = Entity(**self.get_entity(entity_id))
        return EntityGraph(entity=entity, depth=depth, neighbours=self.neighbours(entity_id, depth=depth))

    def vector_search_entities(self, query: str, top_k: int = 10) -> list[EntityHit]:
        """This user's entities nearest to `query` by embedding alone, best first."""
        from memory_runtime.retrieval import Retriever

        return Retriever(self.stores, self.user_id).vector_search_entities(query, top_k)

    # ---- facts -----------------------------------------------------------------------------------
    def learn_fact(
        self,
        claim: str,
        source: FactSource = "user_stated",
        confidence: float = 0.9,
        entity_ids: Sequence[str] = (),
        source_turn_id: str | None = None,
        *,
        source_turn_ids: Sequence[str] | None = None,
        valid_at: datetime | None = None,
        invalid_at: datetime | None = None,
        extractor_version: str | None = None,
        subject: str | None = None,
        predicate: str | None = None,
        object: str | None = None,
        supersedes: Sequence[str] | None = None,
        single_valued: bool | None = None,
    ) -> Fact:
        """Learn (or reinforce) a fact; returns it as stored. See the module docstring for dedup/supersession.

        `single_valued` says whether a new object for (subject, predicate) replaces the old one; by default
        it does for FUNCTIONAL_PREDICATES (lives_in, works_for, name_is, favorite_*...) and not for
        multi-valued ones such as likes or uses.
        """
        turn_ids = _ids(([source_turn_id] if source_turn_id else []) + list(source_turn_ids or []), "turn ids")
        superseded = _ids(supersedes, "supersedes")
        try:
            fact = Fact(
                claim=claim,
                confidence=confidence,
                source=source,
                entity_ids=_ids(entity_ids, "entity_ids"),
                source_turn_ids=turn_ids,
                valid_at=valid_at,
                invalid_at=invalid_at,
                extractor_version=extractor_version,
                subject=subject,
                predicate=predicate,
                object=object,
            )
        except pydantic.ValidationError as exc:
            raise ValidationError(f"invalid fact: {_pydantic_message(exc)}") from None
        self._check_text(fact.claim, "fact claim")
        norm_claim = ids.normalize_name(fact.claim)
        if not norm_claim:
            raise ValidationError(f"fact claim {fact.claim!r} is empty once normalised")
        stamp = now()
        start = fact.valid_at or stamp
        if fact.invalid_at is not None and fact.invalid_at < start:
            raise ValidationError(
                "invalid_at is before valid_at (valid_at defaults to now); pass valid_at for a past fact"
            )
        triple = [ids.normalize_name(v) if v and v.strip() else None for v in (subject, predicate, object)]
        params = {
            "id": ids.new_id(),
            "claim": fact.claim,
            "norm_claim": norm_claim,
            "confidence": float(fact.confidence),
            "source": fact.source,
            "valid_at": to_ms(start),
            "invalid_at": to_ms(fact.invalid_at),
            "source_turn_ids": fact.source_turn_ids,
            "extractor_version": fact.extractor_version,
            "subject": fact.subject,
            "predicate": fact.predicate,
            "object": fact.object,
            "norm_subject": triple[0],
            "norm_predicate": triple[1],
            "norm_object": triple[2],
            "single_valued": bool(is_functional(triple[1] or "") if single_valued is None else single_valued),
            "entity_ids": fact.entity_ids,
            "supersedes": superseded,
            "embedding": self._embed(fact.claim),
            "now": to_ms(stamp),
        }
        with self._fact_writes_serialised():
            for _attempt in range(2):
                rows = self._write(q.learn_fact(self._dialect), **params)
                if rows:
                    return _stored_fact(rows[0])
                # The guard wrote nothing: name what is missing (a concurrent create is retried once).
                missing_entities = self._missing("Entity", fact.entity_ids)
                missing_facts = self._missing("Fact", superseded)
                if missing_entities or missing_facts:
                    parts = []
                    if missing_entities:
                        parts.append(f"entities {', '.join(map(repr, missing_entities))}")
                    if missing_facts:
                        parts.append(f"facts to supersede {', '.join(map(repr, missing_facts))}")
                    raise NotFoundError(
                        f"fact not learnt, nothing written: no {' and '.join(parts)} for user {self.user_id!r}"
                    )
        raise NotFoundError("fact not learnt: its entities or superseded facts changed while writing; retry")

    @contextmanager
    def _fact_writes_serialised(self) -> Iterator[None]:
        """One learn_fact of this user at a time where the graph runs writes concurrently (Neo4j): otherwise two
        learners of one claim both miss the other's fact and both create it. FalkorDB needs no lock."""
        if self.stores.graph.serializes_writes:
            yield
            return
        with self.stores.pg.connection() as conn:
            pg_locks.lock_fact_writes(conn, self.user_id)
            yield

    def get_fact(self, fact_id: str) -> dict[str, Any]:
        """The fact as a dict (id, claim, confidence, times, provenance, entity_ids, …)."""
        rows = self._read(q.get_fact(self._dialect), id=fact_id)
        if not rows:
            raise NotFoundError(f"no fact {fact_id!r} for user {self.user_id!r}")
        return _fact_row(rows[0])

    def invalidate_fact(self, fact_id: str, at: datetime | None = None) -> None:
        """Mark a fact no longer true from `at` (default now); it is kept for as-of queries."""
        if at is not None and not isinstance(at, datetime):
            raise ValidationError(f"at must be a datetime, got {type(at).__name__}")
        fact = self.get_fact(fact_id)
        stamp = now()
        end = utc(at) if at is not None else stamp
        if fact["valid_at"] is not None and end < fact["valid_at"]:
            raise ValidationError(
                f"cannot invalidate fact {fact_id!r} at {end.isoformat()}: it is only valid from "
                f"{fact['valid_at'].isoformat()}"
            )
        self._write(q.invalidate_fact(self._dialect), id=fact_id, at=to_ms(end), now=to_ms(stamp))

    def retract(self, subject: str, predicate: str, object: str, claim: str, at: datetime | None = None) -> list[str]:
        """Close the user's facts that a denial contradicts (same normalised subject, predicate and object, or
        the same claim) at `at` (default now); returns their ids. Kept for as-of queries, like invalidate_fact."""
        if at is not None and not isinstance(at, datetime):
            raise ValidationError(f"at must be a datetime, got {type(at).__name__}")
        parts = [ids.normalize_name(v) for v in (subject, predicate, object, claim)]
        if not all(parts):
            raise ValidationError("retract needs a subject, predicate, object and claim")
        stamp = now()
        with self._fact_writes_serialised():
            rows = self._write(
                q.retract_facts(self._dialect),
                norm_subject=parts[0],
                norm_predicate=parts[1],
                norm_object=parts[2],
                norm_claim=parts[3],
                at=to_ms(utc(at) if at is not None else stamp),
                now=to_ms(stamp),
            )
        return [r["id"] for r in rows]

    def facts_about(self, entity_id: str, include_invalid: bool = False, limit: int = 1000) -> list[dict[str, Any]]:
        """Facts linked ABOUT an entity, latest first; current ones only unless include_invalid."""
        rows = self._read(
            q.facts_about(self._dialect),
            entity_id=entity_id,
            include_invalid=bool(include_invalid),
            now=to_ms(now()),
            limit=_limit(limit),
        )
        if not rows:
            self.get_entity(entity_id)  # NotFoundError for unknown / foreign ids
        return [_fact_row(r) for r in rows]

    def facts_as_of(self, t: datetime, *, known_at: datetime | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Facts valid at `t` (valid_at <= t < invalid_at); with `known_at`, as we knew them then."""
        if not isinstance(t, datetime) or (known_at is not None and not isinstance(known_at, datetime)):
            raise ValidationError("t and known_at must be datetimes")
        rows = self._read(q.facts_as_of(self._dialect), t=to_ms(t), known_at=to_ms(known_at), limit=_limit(limit))
        return [_fact_row(r) for r in rows]

    def list_facts(self, include_invalid: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        """The user's facts, most recently learnt first; current ones only unless include_invalid."""
        rows = self._read(
            q.list_facts(self._dialect),
            include_invalid=bool(include_invalid),
            now=to_ms(now()),
            limit=_limit(limit),
        )
        return [_fact_row(r) for r in rows]

    def vector_search_facts(self, query: str, top_k: int = 10) -> list[FactHit]:
        """This user's current facts nearest to `query` by embedding alone, best first."""
        from memory_runtime.retrieval import Retriever

        return Retriever(self.stores, self.user_id).vector_search_facts(query, top_k)
