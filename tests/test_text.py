"""Text normalisation: the Porter stemmer behind full-text scoring and the hashing embedder's word features."""

import pytest

from memory_runtime.domain.text import content_terms, stem

# Examples from Porter's paper (1980), one or two per rule, with the published bli→ble revision.
PORTER = {
    "caresses": "caress", "ponies": "poni", "cats": "cat", "feed": "feed", "agreed": "agre",
    "plastered": "plaster", "bled": "bled", "motoring": "motor", "sing": "sing", "conflated": "conflat",
    "troubled": "troubl", "sized": "size", "hopping": "hop", "falling": "fall", "hissing": "hiss",
    "filing": "file", "happy": "happi", "sky": "sky", "relational": "relat", "conditional": "condit",
    "rational": "ration", "digitizer": "digit", "differentli": "differ", "vietnamization": "vietnam",
    "operator": "oper", "decisiveness": "decis", "hopefulness": "hope", "sensibiliti": "sensibl",
    "triplicate": "triplic", "formative": "form", "electrical": "electr", "goodness": "good",
    "revival": "reviv", "allowance": "allow", "airliner": "airlin", "adjustable": "adjust",
    "replacement": "replac", "adoption": "adopt", "communism": "commun", "homologous": "homolog",
    "effective": "effect", "bowdlerize": "bowdler", "probate": "probat", "rate": "rate", "controll": "control",
    "roll": "roll", "generalizations": "gener",
}  # fmt: skip


@pytest.mark.parametrize(("word", "expected"), sorted(PORTER.items()))
def test_stem_follows_porter(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_stem_conflates_inflected_and_derived_forms() -> None:
    assert len({stem(w) for w in ("adopt", "adopted", "adopting", "adoption", "adopts")}) == 1
    assert len({stem(w) for w in ("organise", "organised", "organiser", "organisation")}) == 1
    assert stem("travelled") == stem("traveling") == stem("travel") != stem("trav")


def test_stem_keeps_numbers_and_short_words() -> None:
    assert [stem(w) for w in ("2023", "10", "is", "go")] == ["2023", "10", "is", "go"]


def test_content_terms_drop_stopwords_fold_accents_and_stem() -> None:
    assert content_terms("When did Zoë adopt the puppies?") == ["zoe", "adopt", "puppi"]
