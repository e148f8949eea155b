"""Optional LLM extractor: an OpenAI(-compatible) chat model returning JSON-schema structured output.

Used by consolidation only when MEMORY_LLM_MODEL is set. Turns are sent in small batches with their date
and speaker; the model answers with one record per turn (entities, facts, relations), validated against the
same whitelists as the rule extractor (predicates: `vocabulary.FACT_PREDICATES`), so its output is the same
`Extraction` type, negations and resolved dates included. Anything outside the whitelists is dropped,
first-person (`user`) facts are kept only for the user's own turns, and a refusal or malformed answer raises
LLMExtractionError (never a silent empty result).

Run under `AsyncAgentMemory` (in the asyncio bridge, e.g. `await memory.run(...)` around consolidation), the
request goes out on the `openai.AsyncOpenAI` client and is awaited on the event loop, which keeps serving
other tasks while the model answers.
"""

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from memory_runtime.domain.errors import AgentMemoryError
from memory_runtime.domain.vocabulary import (
    ENTITY_RELATIONSHIPS,
    ENTITY_TYPES,
    FACT_PREDICATES,
    RELATION_TYPES,
    fact_predicate,
)
from memory_runtime.extraction.rules import CONF_ASSISTANT, clean_name
from memory_runtime.extraction.types import (
    USER_SUBJECT,
    EntityMention,
    ExtractedFact,
    ExtractedRelation,
    Extraction,
    TurnInput,
    as_turns,
)

BATCH_SIZE = 16
EXTRACTED_ROLES = frozenset({"user", "assistant"})

SYSTEM_PROMPT = (
    """You extract long-term memory from chat turns between a user and an assistant.
For every turn return its index and:
- entities: named people, organizations, locations, products, projects, events, technologies and concepts
  the turn mentions (not dates, times, numbers or amounts), with one type from the enum.
- facts: statements the speaker asserts as currently true. Skip questions, hypothetical, past ("used to")
  and uncertain statements. Facts the user states about themselves use subject "user" (only in user turns;
  an assistant saying "I" is the assistant, unless the turn has a speaker: then "I" is that person, by
  name). predicate is one of: """
    + ", ".join(FACT_PREDICATES)
    + """, favorite_<thing>. object is the value (a person's or organisation's name for has_* and works_for);
  claim is one short English sentence in the third person ("User lives in Berlin"); confidence in [0, 1].
  negated is true when the speaker denies a fact or says it ended ("I don't eat meat anymore": subject user,
  predicate eats, object meat, negated true; "I left Google": works_for Google, negated true). when is the
  ISO date (YYYY-MM-DD, or YYYY-MM for a month) a plan or trip is for, resolved against the turn's date, else
  null.
- relations: typed edges between two of the turn's entities, with a type from the enum.
Return an empty list when a turn has nothing worth remembering."""
)

_ENTITY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "type"],
    "properties": {"name": {"type": "string"}, "type": {"type": "string", "enum": list(ENTITY_TYPES)}},
}
_FACT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["subject", "predicate", "object", "claim", "confidence", "negated", "when"],
    "properties": {
        "subject": {"type": "string"},
        "predicate": {"type": "string"},
        "object": {"type": "string"},
        "claim": {"type": "string"},
        "confidence": {"type": "number"},
        "negated": {"type": "boolean"},
        "when": {"type": ["string", "null"]},
    },
}
_RELATION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["source", "target", "type"],
    "properties": {
        "source": {"type": "string"},
        "target": {"type": "string"},
        "type": {"type": "string", "enum": list(ENTITY_RELATIONSHIPS)},
    },
}
RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["turns"],
    "properties": {
        "turns": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["index", "entities", "facts", "relations"],
                "properties": {
                    "index": {"type": "integer"},
                    "entities": {"type": "array", "items": _ENTITY},
                    "facts": {"type": "array", "items": _FACT},
                    "relations": {"type": "array", "items": _RELATION},
                },
            },
        }
    },
}
PROMPT_HASH = hashlib.sha256((SYSTEM_PROMPT + json.dumps(RESPONSE_SCHEMA, sort_keys=True)).encode()).hexdigest()[:10]
_PREDICATE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


class LLMExtractionError(AgentMemoryError):
    """The LLM refused, returned malformed output, or the request failed."""


class LLMExtractor:
    """Extracts with a chat model through the OpenAI client; see the module docstring."""

    def __init__(
        self, model: str, client: Any, batch_size: int = BATCH_SIZE, *, async_client: Callable[[], Any] | None = None
    ) -> None:
        self.model = model
        self.client = client
        self.batch_size = batch_size
        self.async_client = async_client  # the asyncio client of the running loop (used in the asyncio bridge)

    @classmethod
    def from_settings(cls, settings: Any, http_client: Any = None, async_http_client: Any = None) -> "LLMExtractor":
        """An extractor for settings.llm_model with the configured key and base URL (sync and asyncio clients)."""
        from openai import AsyncOpenAI, OpenAI

        from memory_runtime.embeddings.openai import PerLoop

        if not settings.llm_model:
            raise ValueError("MEMORY_LLM_MODEL is not set")
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        options = {"api_key": key, "base_url": settings.openai_base_url, "max_retries": 2}
        client = OpenAI(**options, http_client=http_client)
        clients = PerLoop(lambda: AsyncOpenAI(**options, http_client=async_http_client))
        return cls(settings.llm_model, client, async_client=clients.get)

    @property
    def version(self) -> str:
        """Model name and prompt hash, part of EXTRACTOR_VERSION."""
        return llm_version(self.model)

    def extract(self, texts: Sequence[str], roles: Sequence[str] | None = None) -> list[Extraction]:
        """One Extraction per text; `roles` (default all `user`) decides who `I` is."""
        return self.extract_turns(as_turns(texts, roles))

    def extract_turns(self, turns: Sequence[TurnInput]) -> list[Extraction]:
        """One Extraction per turn; each is sent with its date (for relative dates) and speaker."""
        turns = list(turns)
        out = [Extraction(t.text) for t in turns]
        todo = [i for i, t in enumerate(turns) if t.role in EXTRACTED_ROLES and t.text.strip()]
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            answer = self._ask([_request_turn(n, turns[i]) for n, i in enumerate(chunk)])
            for record in answer:
                n = record.get("index")
                if isinstance(n, int) and 0 <= n < len(chunk):
                    i = chunk[n]
                    out[i] = _to_extraction(turns[i], record)
        return out

    def _ask(self, turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from openai import OpenAIError

        from memory_runtime.stores import bridge

        request = self._request(turns)
        try:
            if self.async_client is not None and bridge.in_bridge():  # the loop serves other tasks meanwhile
                response = bridge.await_io(self.async_client().chat.completions.create(**request))
            else:
                response = self.client.chat.completions.create(**request)
        except OpenAIError as exc:
            raise LLMExtractionError(f"LLM extraction request to {self.model!r} failed: {exc}") from exc
        return self._records(response)

    def _request(self, turns: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": json.dumps({"turns": turns}, ensure_ascii=False)},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "memory_extraction", "strict": True, "schema": RESPONSE_SCHEMA},
            },
        }

    def _records(self, response: Any) -> list[dict[str, Any]]:
        """The turn records of a chat completion, or LLMExtractionError for a refusal or malformed output."""
        if not response.choices:
            raise LLMExtractionError(f"{self.model!r} returned no choices")
        message = response.choices[0].message
        if getattr(message, "refusal", None):
            raise LLMExtractionError(f"{self.model!r} refused to extract: {message.refusal}")
        if response.choices[0].finish_reason == "length":
            raise LLMExtractionError(f"{self.model!r} ran out of tokens; lower the extraction batch size")
        try:
            data = json.loads(message.content or "")
            records = data["turns"]
            if not isinstance(records, list):
                raise TypeError("turns is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            raise LLMExtractionError(f"{self.model!r} returned output that is not the schema: {exc}") from None
        return [r for r in records if isinstance(r, dict)]


def llm_version(model: str) -> str:
    """`llm-<model>-<prompt hash>`: changes when the model, prompt or schema changes."""
    return f"llm-{model}-{PROMPT_HASH}"


def _request_turn(n: int, turn: TurnInput) -> dict[str, Any]:
    """One turn as the request lists it."""
    item: dict[str, Any] = {"index": n, "role": turn.role, "text": turn.text}
    if turn.timestamp is not None:
        item["date"] = turn.timestamp.date().isoformat()
    if turn.speaker:
        item["speaker"] = turn.speaker
    return item


_WHEN = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def _to_extraction(turn: TurnInput, record: dict[str, Any]) -> Extraction:
    """Validate one turn record against the whitelists and build its Extraction."""
    text, role = turn.text, turn.role
    speaker = clean_name(turn.speaker) if turn.speaker and role != "user" else None
    out = Extraction(text)
    by_name: dict[str, EntityMention] = {}
    for e in record.get("entities") or []:
        name = clean_name(str(e.get("name", "")))
        if name and e.get("type") in ENTITY_TYPES and len(name) <= 80:
            m = out.add_entity(EntityMention(name, e["type"], "llm"))
            by_name.setdefault(name.casefold(), m)
    for f in record.get("facts") or []:
        subject = str(f.get("subject", "")).strip()
        predicate = str(f.get("predicate", "")).strip().lower()
        obj, claim = str(f.get("object", "")).strip(), str(f.get("claim", "")).strip()
        if not (subject and obj and claim and _PREDICATE.match(predicate) and fact_predicate(predicate)):
            continue
        if subject.casefold() in ("user", "the user", "i"):
            if role != "user" and not speaker:
                continue
            subject = USER_SUBJECT if role == "user" else str(speaker)
        try:
            conf = min(1.0, max(0.0, float(f.get("confidence", 0.7))))
        except (TypeError, ValueError):
            conf = 0.7
        if role != "user":
            conf = min(conf, CONF_ASSISTANT)
        about = tuple(m for key, m in by_name.items() if key in (subject.casefold(), obj.casefold()))
        negated = f.get("negated") is True
        when = f.get("when") if isinstance(f.get("when"), str) and _WHEN.match(f["when"]) else None
        rel_type = RELATION_TYPES.get(predicate) if not negated else None
        out.facts.append(
            ExtractedFact(subject, predicate, obj, claim, conf, about, negated=negated, when=when, rel_type=rel_type)
        )
    for r in record.get("relations") or []:
        src = by_name.get(clean_name(str(r.get("source", ""))).casefold())
        dst = by_name.get(clean_name(str(r.get("target", ""))).casefold())
        if src and dst and src.key != dst.key and r.get("type") in ENTITY_RELATIONSHIPS:
            out.relations.append(ExtractedRelation(src, dst, r["type"]))
    return out
