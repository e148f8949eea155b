"""The embedder protocol and the checks every provider shares."""

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from memory_runtime.domain.errors import InvalidEmbedding

FLOAT32_MAX = 3.4028234663852886e38


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into fixed-size float vectors."""

    dimensions: int
    model_id: str  # provider + model + dimension; part of the cache key and of provenance

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


@runtime_checkable
class AsyncEmbedder(Protocol):
    """An embedder that also has an asyncio path (its I/O awaited, not blocking the event loop)."""

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order, as `embed` returns them."""
        ...


@runtime_checkable
class TermWeightedEmbedder(Protocol):
    """An embedder that can scale a query's features by a weight per term (the hashing embedder's idf queries)."""

    def embed_query(self, text: str, term_weight: Callable[[str], float]) -> list[float]:
        """The query vector of `text`, each term's features scaled by `term_weight(term)`."""
        ...


def check_dimensions(vector: Sequence[float], dims: int, what: str = "embedding") -> list[float]:
    """The vector as floats, or InvalidEmbedding if its size or values are wrong."""
    try:
        values = np.asarray(vector, dtype=np.float64)  # one pass in C: this runs for every stored and query vector
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidEmbedding(f"{what} is not a flat sequence of numbers: {exc}") from None
    if values.ndim != 1 or len(values) != dims:
        size = len(values) if values.ndim == 1 else f"shape {values.shape} instead of"
        raise InvalidEmbedding(
            f"{what} has {size} dimensions but MEMORY_EMBEDDING_DIMENSIONS is {dims}; "
            f"use an embedder with {dims} dimensions or change the setting before the first migrate"
        )
    if not np.isfinite(values).all():
        raise InvalidEmbedding(f"{what} contains NaN or infinite values")
    if np.abs(values).max(initial=0.0) > FLOAT32_MAX:  # every store keeps float32: these would become inf
        raise InvalidEmbedding(f"{what} has values beyond the float32 range (|x| > {FLOAT32_MAX:.4g})")
    checked: list[float] = values.tolist()
    return checked
