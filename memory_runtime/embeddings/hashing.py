"""The built-in offline embedder: signed feature hashing of words, word bigrams and character n-grams.

Deterministic across processes and machines (blake2b, not Python's salted hash), no model download, no
network. Words are lower-cased, accent-folded and lightly stemmed; stopwords are dropped from the word
features but kept in character n-grams. Vectors are L2-normalised, so cosine = dot product.
"""

import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset(
    """a an the and or but if then else of to in on at by for with from about as into over after before
    is are was were be been being am do does did doing have has had having i me my we our you your he him
    his she her it its they them their this that these those there here what which who whom whose when
    where why how all any both each few more most other some such no nor not only own same so than too very
    can will just should would could may might must shall s t don doesn didn isn aren wasn weren let lets
    im ive id youre yeah ok okay oh hi hey please thanks thank""".split()
)
_SUFFIXES = ("ingly", "edly", "ings", "ing", "ies", "ied", "ed", "es", "ly", "s")


def fold(text: str) -> str:
    """Lower-case and strip accents."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def stem(word: str) -> str:
    """A light suffix-stripping stemmer (plural and verb endings)."""
    if len(word) <= 4 or word.isdigit():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word


def tokens(text: str) -> list[str]:
    """Folded word tokens of `text`."""
    return _TOKEN.findall(fold(text))


def content_terms(text: str) -> list[str]:
    """Stemmed tokens without stopwords: what the word features are built from."""
    return [stem(t) for t in tokens(text) if t not in STOPWORDS]


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
            digest = hashlib.blake2b(feat.encode("utf-8", "surrogatepass"), digest_size=8).digest()
            h = int.from_bytes(digest, "little")
            sign = 1.0 if h & 1 else -1.0
            vec[(h >> 1) % self.dimensions] += sign * weights[feat[0]] * (1.0 + math.log(count))
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:  # no features (punctuation only): a fixed unit vector, never NaN
            vec[0] = 1.0
            norm = 1.0
        return (vec / norm).astype(np.float32).tolist()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text."""
        return [self._vector(t) for t in texts]
