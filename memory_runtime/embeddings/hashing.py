"""The built-in offline embedder: signed feature hashing of words, word bigrams and character n-grams.

Deterministic across processes and machines (blake2b, not Python's salted hash), no model download, no
network. Words are lower-cased, accent-folded and lightly stemmed; stopwords are dropped from the word
features but kept in character n-grams. Vectors are L2-normalised, so cosine = dot product.
"""

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from memory_runtime.text import content_terms, tokens


@lru_cache(maxsize=1 << 18)
def _slot(feature: str, dimensions: int) -> tuple[int, float]:
    """(index, sign) of a feature; cached because chat vocabulary repeats (bounded memory)."""
    h = int.from_bytes(hashlib.blake2b(feature.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
    return (h >> 1) % dimensions, (1.0 if h & 1 else -1.0)


class HashingEmbedder:
    """Feature-hashing embedder (`hashing`, the default)."""

    VERSION = "v1"

    def __init__(self, dimensions: int = 384) -> None:
        if dimensions < 8:
            raise ValueError("hashing embedder needs at least 8 dimensions")
        self.dimensions = dimensions
        self.model_id = f"hashing-{self.VERSION}:{dimensions}"

    def _features(self, text: str) -> Counter[str]:
        feats: Counter[str] = Counter()
        words = content_terms(text)
        feats.update("w:" + w for w in words)
        feats.update(f"b:{a}_{b}" for a, b in zip(words, words[1:], strict=False))
        for tok in tokens(text):
            if len(tok) < 4:
                continue
            padded = f"<{tok}>"
            feats.update("c:" + padded[i : i + 4] for i in range(len(padded) - 3))
        return feats

    def _vector(self, text: str) -> list[float]:
        vec = np.zeros(self.dimensions, dtype=np.float64)
        weights = {"w": 1.0, "b": 0.7, "c": 0.25}
        for feat, count in self._features(text).items():
            index, sign = _slot(feat, self.dimensions)
            vec[index] += sign * weights[feat[0]] * (1.0 + math.log(count))
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:  # no features (punctuation only): a fixed unit vector, never NaN
            vec[0] = 1.0
            norm = 1.0
        return (vec / norm).astype(np.float32).tolist()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text."""
        return [self._vector(t) for t in texts]
