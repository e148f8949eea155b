"""Extraction of entities, facts and relations from turns, and consolidation of a window into memory.

* `spacy_extractor.SpacyExtractor` — spaCy NER + dependency-parse rules (`rules.py`), the default;
* `llm.LLMExtractor` — an OpenAI(-compatible) chat model with JSON-schema output, used instead when
  MEMORY_LLM_MODEL is set;
* `resolution.EntityResolver` — per-user entity resolution with recorded merges;
* consolidation of a window (`consolidate_window`) is a batch job: `memory_runtime.batch.consolidate`, above
  this package (extraction does not import it).

`EXTRACTOR_VERSION` / `extractor_version(settings)` name everything that shapes extraction output:
the rules' code version, the spaCy model and its version, and the LLM model with a hash of its prompt and
schema (or `nollm`). It is stored on every derived fact and entity; bump RULES_VERSION whenever the rules
change so Dagster marks the affected partitions stale.
"""

from typing import Any

from memory_runtime.extraction.llm import llm_version
from memory_runtime.extraction.resolution import EMBEDDING_MERGE_THRESHOLD, EntityResolver, Merge
from memory_runtime.extraction.spacy_extractor import DEFAULT_MODEL, SpacyExtractor, model_version
from memory_runtime.extraction.types import (
    USER_SUBJECT,
    EntityMention,
    ExtractedFact,
    ExtractedRelation,
    Extraction,
    Extractor,
    is_functional,
)

RULES_VERSION = "rules-3"


def _version(spacy_model: str, llm_model: str | None) -> str:
    return f"{RULES_VERSION}+{model_version(spacy_model)}+{llm_version(llm_model) if llm_model else 'nollm'}"


def extractor_version(settings: Any) -> str:
    """The extractor version for these settings: rules + spaCy model/version + LLM model/prompt or nollm."""
    return _version(settings.spacy_model, settings.llm_model)


def make_extractor(settings: Any) -> Extractor:
    """The LLM extractor when settings.llm_model is set, otherwise the spaCy extractor."""
    if settings.llm_model:
        from memory_runtime.extraction.llm import LLMExtractor

        return LLMExtractor.from_settings(settings)
    return SpacyExtractor(settings.spacy_model)


# The version with default settings (spaCy model default, no LLM), without reading the environment.
EXTRACTOR_VERSION = _version(DEFAULT_MODEL, None)

__all__ = [
    "EMBEDDING_MERGE_THRESHOLD",
    "EXTRACTOR_VERSION",
    "RULES_VERSION",
    "USER_SUBJECT",
    "EntityMention",
    "EntityResolver",
    "ExtractedFact",
    "ExtractedRelation",
    "Extraction",
    "Extractor",
    "Merge",
    "SpacyExtractor",
    "extractor_version",
    "is_functional",
    "make_extractor",
]
