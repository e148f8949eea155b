"""The embedder protocol and the checks every provider shares."""

import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from memory_runtime.errors import InvalidEmbedding

FLOAT32_MAX = 3.4028234663852886e38


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into fixed-size float vectors."""

    dimensions: int
    model_id: str  # provider + model + dimension; part of the cache key and of provenance

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


def check_dimensions(vector: Sequence[float], dims: int, what: str = "embedding") -> list[float]:
    """The vector as floats, or InvalidEmbedding if its size or values are wrong."""
    out = [float(x) for x in vector]
    if len(out) != dims:
        raise InvalidEmbedding(
            f"{what} has {len(out)} dimensions but MEMORY_EMBEDDING_DIMENSIONS is {dims}; "
            f"use an embedder with {dims} dimensions or change the setting before the first migrate"
        )
    if not all(math.isfinite(x) for x in out):
        raise InvalidEmbedding(f"{what} contains NaN or infinite values")
    if any(abs(x) > FLOAT32_MAX for x in out):  # every store keeps float32: these would become inf
        raise InvalidEmbedding(f"{what} has values beyond the float32 range (|x| > {FLOAT32_MAX:.4g})")
    return out
