"""Health and food: I'm vegetarian, I'm allergic to X, I have diabetes, I eat X, I don't eat X, I avoid X
-> diet, allergic_to, has_condition, eats, avoids (the copula forms are read by `identity`).
"""

from typing import TYPE_CHECKING

from memory_runtime.extraction.personal.base import ClauseRules, Speaker, _conjuncts, _noun_phrase
from memory_runtime.extraction.rules import (
    _prep_objects,
    _span_text,
)

if TYPE_CHECKING:
    from spacy.tokens import Token

DIETS = frozenset("vegetarian vegan pescatarian keto kosher halal paleo gluten-free dairy-free".split())
CONDITION_WORDS = {
    "diabetic": "diabetes",
    "asthmatic": "asthma",
    "celiac": "celiac disease",
    "coeliac": "celiac disease",
    "epileptic": "epilepsy",
}
CONDITIONS = frozenset(
    """diabetes asthma arthritis migraines migraine epilepsy hypertension anxiety depression insomnia eczema adhd
    celiac psoriasis""".split()
)


class HealthRules(ClauseRules):
    """Conditions and what someone eats or avoids."""

    def condition(self, pobjs: list["Token"], who: Speaker) -> None:
        """'I suffer from migraines', 'I was diagnosed with type 2 diabetes'."""
        for pobj in pobjs:
            for item in _conjuncts(pobj):
                cond = _span_text([t for t in item.subtree if t.dep_ != "det" and not t.is_punct]).lower()
                if cond and len(cond.split()) <= 4:
                    self._fact(who, "has_condition", cond, f"{who.claim} has {cond}")

    def food(self, verb: "Token", who: Speaker, avoid_only: bool = False, gave_up: bool = False) -> None:
        """'I eat fish' (eats), "I don't eat meat anymore" (not eats + avoids), 'I avoid sugar' (avoids), 'I eat
        lots of vegetables', 'I gave up sugar' (not eats + avoids)."""
        low = verb.lower_
        objs = [i for c in verb.children if c.dep_ in ("dobj", "xcomp") for i in _conjuncts(c)]
        objs = [q for o in objs for q in (_prep_objects(o, ("of",)) if o.lower_ in ("lot", "lots", "plenty") else [o])]
        if low == "stopped" or gave_up:  # "I stopped eating meat", "I gave up meat"
            inner = [o for o in objs if o.lower_ in ("eating", "drinking")]
            objs = [i for o in inner for c in o.children if c.dep_ == "dobj" for i in _conjuncts(c)] or (
                objs if gave_up else []
            )
            avoid_only = False
            if self.b.negating or not objs:
                return
            self.b.negating = True
        for obj in objs:
            if obj.lower_ in ("it", "that", "this", "them", "anything", "something", "much", "lot"):
                continue
            food = _noun_phrase(obj).lower()
            denied = self.b.negating
            if low in ("avoid", "avoids"):
                self._fact(who, "avoids", food, f"{who.claim} avoids {food}")
                continue
            if not avoid_only:
                self._fact(who, "eats", food, f"{who.claim} {'drinks' if 'drink' in low else 'eats'} {food}")
            if denied or avoid_only:
                self.b.negating = False
                try:
                    self._fact(who, "avoids", food, f"{who.claim} avoids {food}")
                finally:
                    self.b.negating = denied
        if low == "stopped" or gave_up:
            self.b.negating = False
