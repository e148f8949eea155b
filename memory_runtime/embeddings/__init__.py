"""Embedders behind one protocol, chosen by MEMORY_EMBEDDING_PROVIDER; imported lazily."""

from memory_runtime.config import Settings
from memory_runtime.domain.errors import ConfigurationError
from memory_runtime.embeddings.base import Embedder, check_dimensions

PROVIDERS = {
    "hashing": "memory_runtime.embeddings.hashing:HashingEmbedder",
    "local": "memory_runtime.embeddings.local:LocalEmbedder",
    "openai": "memory_runtime.embeddings.openai:OpenAIEmbedder",
    "sentence-transformers": "memory_runtime.embeddings.sentence_transformers:SentenceTransformerEmbedder",
}


def make_embedder(settings: Settings) -> Embedder:
    """The configured embedder (without cache); its dimension must match the settings."""
    import importlib

    module_name, _, cls_name = PROVIDERS[settings.embedding_provider].partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"MEMORY_EMBEDDING_PROVIDER={settings.embedding_provider} needs an extra package: {exc}. "
            f"Install it (e.g. pip install 'agent-memory[{settings.embedding_provider}]')."
        ) from exc
    embedder: Embedder = (
        cls.from_settings(settings) if hasattr(cls, "from_settings") else cls(settings.embedding_dimensions)
    )
    if embedder.dimensions != settings.embedding_dimensions:
        raise ConfigurationError(
            f"{embedder.model_id} produces {embedder.dimensions}-dimensional vectors but "
            f"MEMORY_EMBEDDING_DIMENSIONS={settings.embedding_dimensions}; make them equal"
        )
    return embedder


__all__ = ["Embedder", "check_dimensions", "make_embedder"]
