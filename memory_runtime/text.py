"""Text normalisation shared by the hashing embedder and full-text queries: tokens, stopwords, stems."""

import re
import unicodedata
from functools import lru_cache

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
    if text.isascii():  # most chat text: nothing to fold but case (and 10x faster than normalising)
        return text.lower()
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


@lru_cache(maxsize=1 << 16)
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
