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


# ---- Porter stemmer (M.F. Porter, "An algorithm for suffix stripping", 1980; with the published
# bli→ble and logi→log revisions) ---------------------------------------------------------------------
_VOWELS = frozenset("aeiou")


def _cons(w: str, i: int) -> bool:
    """Whether w[i] is a consonant in Porter's sense (y after a consonant is a vowel)."""
    ch = w[i]
    if ch in _VOWELS:
        return False
    if ch == "y":
        return i == 0 or not _cons(w, i - 1)
    return True


def _measure(stem: str) -> int:
    """Porter's m: the number of vowel→consonant transitions in `stem`."""
    n, prev = 0, None
    for i in range(len(stem)):
        c = _cons(stem, i)
        if prev is False and c:
            n += 1
        prev = c
    return n


def _has_vowel(stem: str) -> bool:
    return any(not _cons(stem, i) for i in range(len(stem)))


def _double_cons(w: str) -> bool:
    return len(w) >= 2 and w[-1] == w[-2] and _cons(w, len(w) - 1)


def _cvc(w: str) -> bool:
    """Ends consonant-vowel-consonant, the last not w, x or y (hop, not snow)."""
    return (
        len(w) >= 3
        and _cons(w, len(w) - 3)
        and not _cons(w, len(w) - 2)
        and _cons(w, len(w) - 1)
        and w[-1] not in "wxy"
    )


_STEP2 = (
    ("ational", "ate"),
    ("tional", "tion"),
    ("enci", "ence"),
    ("anci", "ance"),
    ("izer", "ize"),
    ("bli", "ble"),
    ("alli", "al"),
    ("entli", "ent"),
    ("eli", "e"),
    ("ousli", "ous"),
    ("ization", "ize"),
    ("ation", "ate"),
    ("ator", "ate"),
    ("alism", "al"),
    ("iveness", "ive"),
    ("fulness", "ful"),
    ("ousness", "ous"),
    ("aliti", "al"),
    ("iviti", "ive"),
    ("biliti", "ble"),
    ("logi", "log"),
)
_STEP3 = (("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"), ("ful", ""), ("ness", ""))
_STEP4 = (
    "al",
    "ance",
    "ence",
    "er",
    "ic",
    "able",
    "ible",
    "ant",
    "ement",
    "ment",
    "ent",
    "ion",
    "ou",
    "ism",
    "ate",
    "iti",
    "ous",
    "ive",
    "ize",
)


def _replace(w: str, rules: tuple[tuple[str, str], ...], min_m: int) -> str:
    """Apply the first rule whose suffix `w` ends with, if the remaining stem's measure exceeds `min_m`."""
    for suffix, repl in rules:
        if w.endswith(suffix):
            stem = w[: -len(suffix)]
            return stem + repl if _measure(stem) > min_m else w
    return w


def _porter(w: str) -> str:
    """Porter's five steps; `w` is lower-case and longer than two letters."""
    # step 1a
    if w.endswith(("sses", "ies")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    # step 1b
    if w.endswith("eed"):
        if _measure(w[:-3]) > 0:
            w = w[:-1]
    else:
        for suffix in ("ed", "ing"):
            if w.endswith(suffix) and _has_vowel(w[: -len(suffix)]):
                w = w[: -len(suffix)]
                if w.endswith(("at", "bl", "iz")):
                    w += "e"
                elif _double_cons(w) and w[-1] not in "lsz":
                    w = w[:-1]
                elif _measure(w) == 1 and _cvc(w):
                    w += "e"
                break
    # step 1c
    if w.endswith("y") and _has_vowel(w[:-1]):
        w = w[:-1] + "i"
    w = _replace(w, _STEP2, 0)
    w = _replace(w, _STEP3, 0)
    # step 4
    for suffix in _STEP4:
        if w.endswith(suffix):
            stem = w[: -len(suffix)]
            if _measure(stem) > 1 and (suffix != "ion" or stem.endswith(("s", "t"))):
                w = stem
            break
    # step 5
    if w.endswith("e"):
        stem = w[:-1]
        m = _measure(stem)
        if m > 1 or (m == 1 and not _cvc(stem)):
            w = stem
    if w.endswith("ll") and _measure(w) > 1:
        w = w[:-1]
    return w


def fold(text: str) -> str:
    """Lower-case and strip accents."""
    if text.isascii():  # the common case, several times faster than normalising
        return text.lower()
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """The Porter (1980) stem of a folded word; numbers stay as they are.

    The full algorithm rather than plural/verb stripping: it also conflates derivational forms
    (organise/organiser/organisation, adopt/adoption, relation/relational) that a question and the turn
    answering it often use differently. Cached: chat vocabulary repeats.
    """
    if len(word) <= 2 or word.isdigit():
        return word
    return _porter(word)


def tokens(text: str) -> list[str]:
    """Folded word tokens of `text`."""
    return _TOKEN.findall(fold(text))


def content_terms(text: str) -> list[str]:
    """Stemmed tokens without stopwords: what the word features are built from."""
    return [stem(t) for t in tokens(text) if t not in STOPWORDS]


@lru_cache(maxsize=1 << 14)
def cached_content_terms(text: str) -> tuple[str, ...]:
    """`content_terms` of a text met again and again (the candidate turns recall scores on every query)."""
    return tuple(content_terms(text))
