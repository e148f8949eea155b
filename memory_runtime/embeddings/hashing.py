"""The built-in offline embedder: signed feature hashing of words, word bigrams and character n-grams.

Deterministic across processes and machines (blake2b, not Python's salted hash), no model download, no
network. Words are lower-cased, accent-folded and Porter-stemmed; stopwords are dropped from the word
features but kept in character n-grams. Vectors are L2-normalised, so cosine = dot product.
"""

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from memory_runtime.domain.text import STOPWORDS, content_terms, stem, tokens


@lru_cache(maxsize=1 << 18)
def _slot(feature: str, dimensions: int) -> tuple[int, float]:
    """(index, sign) of a feature; cached because chat vocabulary repeats (bounded memory)."""
    h = int.from_bytes(hashlib.blake2b(feature.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
    return (h >> 1) % dimensions, (1.0 if h & 1 else -1.0)


_KINDS = {"w": 1.0, "b": 0.7, "c": 0.25}  # feature weight by kind: word, word bigram, character 4-gram
_LOG1 = [0.0] + [1.0 + math.log(n) for n in range(1, 64)]  # 1 + log(count) of the common counts


@lru_cache(maxsize=1 << 18)
def _signed_slot(feature: str, dimensions: int) -> tuple[int, float]:
    """(index, sign × kind weight) of a feature."""
    index, sign = _slot(feature, dimensions)
    return index, sign * _KINDS[feature[0]]


class HashingEmbedder:
    """Feature-hashing embedder (`hashing`, the default)."""

    worth_caching = False  # computing a vector is cheaper than fetching it (see embeddings.cache)
    VERSION = "v2"  # v2: Porter stems (memory_runtime.domain.text.stem) in the word and bigram features

    def __init__(self, dimensions: int = 384) -> None:
        if dimensions < 8:
            raise ValueError("hashing embedder needs at least 8 dimensions")
        self.dimensions = dimensions
        self.model_id = f"hashing-{self.VERSION}:{dimensions}"

    @staticmethod
    def _parts(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
        """The content terms of `text` and, per token of 4+ characters, its character 4-grams (of `<tok>`)."""
        grams = []
        for tok in tokens(text):
            if len(tok) >= 4:
                padded = f"<{tok}>"
                grams.append((tok, [padded[i : i + 4] for i in range(len(padded) - 3)]))
        return content_terms(text), grams

    def _features(self, text: str, term_weight: Callable[[str], float]) -> dict[str, tuple[int, float]]:
        """feature → (count, mean weight of the terms that produced it)."""
        feats: dict[str, tuple[int, float]] = {}

        def add(feat: str, weight: float) -> None:
            count, total = feats.get(feat, (0, 0.0))
            feats[feat] = (count + 1, total + weight)

        words, grams = self._parts(text)
        for w in words:
            add("w:" + w, term_weight(w))
        for a, b in zip(words, words[1:], strict=False):
            add(f"b:{a}_{b}", math.sqrt(term_weight(a) * term_weight(b)))
        for tok, parts in grams:
            weight = term_weight(stem(tok)) if tok not in STOPWORDS else 0.0
            for gram in parts:
                add("c:" + gram, weight)
        return {f: (count, total / count) for f, (count, total) in feats.items()}

    def _counts(self, text: str) -> Counter[str]:
        """How often each feature occurs, every term weighing 1 (stored vectors): the features of `_features`
        in the same order, counted in one pass (this is the bulk import's hot loop)."""
        words, grams = self._parts(text)
        counts = Counter(["w:" + w for w in words])
        counts.update([f"b:{a}_{b}" for a, b in zip(words, words[1:], strict=False)])
        counts.update(["c:" + gram for _, parts in grams for gram in parts])
        return counts

    def _vector(self, text: str, term_weight: Callable[[str], float] | None = None) -> list[float]:
        acc = [0.0] * self.dimensions  # float64 sums in feature order
        dims = self.dimensions
        if term_weight is None:  # every weight is 1.0: sign * kind * 1.0 * (1 + log n), the same float
            for feat, count in self._counts(text).items():
                index, signed = _signed_slot(feat, dims)
                acc[index] += signed * (_LOG1[count] if count < len(_LOG1) else 1.0 + math.log(count))
        else:
            for feat, (count, weight) in self._features(text, term_weight).items():
                index, sign = _slot(feat, dims)
                acc[index] += sign * _KINDS[feat[0]] * weight * (1.0 + math.log(count))
        vec = np.array(acc, dtype=np.float64)
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:  # no features (punctuation only): a fixed unit vector, never NaN
            vec[0] = 1.0
            norm = 1.0
        unit: list[float] = (vec / norm).astype(np.float32).tolist()
        return unit

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text."""
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str, term_weight: Callable[[str], float]) -> list[float]:
        """A query vector whose features are scaled by the weight of the term producing them.

        The space is linear in features, so scaling the query's features by a per-user idf makes the cosine
        favour turns sharing the query's rare terms over short turns that share only a frequent one (a
        speaker's name, say) — what BM25's idf does for full-text. Stopwords weigh nothing. Stored vectors
        are unchanged (`embed`), so this needs no re-embedding.
        """
        return self._vector(text, term_weight)
