"""The `sentence-transformers` embedder: a local model, loaded once, producing unit-length vectors.

The package (and torch) is an optional extra: `pip install sentence-transformers` (or
`pip install 'agent-memory[sentence-transformers]'`). It is imported when the embedder is built, never
when this module is imported. The dimension is the model's own; `make_embedder` checks it against
MEMORY_EMBEDDING_DIMENSIONS.
"""

from collections.abc import Sequence
from typing import Any

from memory_runtime.config import Settings
from memory_runtime.domain.errors import ConfigurationError

DEFAULT_MODEL = "all-MiniLM-L6-v2"  # 384 dimensions, the default MEMORY_EMBEDDING_DIMENSIONS


class SentenceTransformerEmbedder:
    """Embeddings from a local sentence-transformers model."""

    def __init__(self, model: str = DEFAULT_MODEL, *, device: str | None = None, batch_size: int = 64) -> None:
        try:
            import sentence_transformers
        except ImportError as exc:
            raise ConfigurationError(
                "MEMORY_EMBEDDING_PROVIDER=sentence-transformers needs the sentence-transformers package: "
                "pip install sentence-transformers (or pip install 'agent-memory[sentence-transformers]')"
            ) from exc
        try:
            self._model: Any = sentence_transformers.SentenceTransformer(model, device=device)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot load sentence-transformers model {model!r} (MEMORY_EMBEDDING_MODEL): {exc}"
            ) from exc
        dims = self._model.get_sentence_embedding_dimension()
        if not dims:
            raise ConfigurationError(f"sentence-transformers model {model!r} does not report its dimension")
        self.model = model
        self.dimensions = int(dims)
        self.model_id = f"st:{model}:{self.dimensions}"
        self.batch_size = batch_size

    @classmethod
    def from_settings(cls, settings: Settings) -> "SentenceTransformerEmbedder":
        """The model MEMORY_EMBEDDING_MODEL names; unset, DEFAULT_MODEL (the setting's default is OpenAI's)."""
        explicit = "embedding_model" in settings.model_fields_set
        return cls(settings.embedding_model if explicit else DEFAULT_MODEL)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text, in order."""
        if not texts:
            return []
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        unit: list[list[float]] = vectors.astype("float64").tolist()
        return unit
