"""Identity: I'm 34 (years old), I just turned 30 -> age_is; I'm from X -> is_from; I'm into X -> likes; home is
X for me -> lives_in; and the copula forms of the other families (I'm vegetarian, I'm a student at S).
"""

from typing import TYPE_CHECKING

from memory_runtime.extraction.personal.base import Speaker, _conjuncts, _noun_phrase
from memory_runtime.extraction.personal.education import EducationRules
from memory_runtime.extraction.personal.health import CONDITION_WORDS, DIETS
from memory_runtime.extraction.personal.work import WorkRules
from memory_runtime.extraction.rules import (
    _LOC_LABELS,
    _attr,
    _named,
    _prep_objects,
    _span_text,
    age_modifier,
    polarity,
)

if TYPE_CHECKING:
    from spacy.tokens import Token

FOND_WORDS = {  # "I'm addicted to X": the word and the prepositions that take what the speaker likes
    "addicted": ("to",),
    "obsessed": ("with",),
    "passionate": ("about",),
    "crazy": ("about",),
    "mad": ("about",),
    "keen": ("on",),
}
_PRONOUNS_LIKED = frozenset("it that this them you him her everything something anything".split())


class IdentityRules(WorkRules, EducationRules):
    """Clauses of being: age, origin, likes, diet and the like."""

    def copula(self, verb: "Token", who: Speaker) -> None:
        """I'm 34 / I'm from X / I'm vegetarian / I'm allergic to X / I'm a student at X / my company is X."""
        attr = _attr(verb)
        self.school_year(verb, who)
        for pobj in _prep_objects(verb, ("from",)):
            named = _named(self.b.d, pobj, _LOC_LABELS | {"NORP"})
            if named is not None:
                place = self.b.entity(named[0], "Location", "rule")
                self._fact(who, "is_from", named[0], f"{who.claim} is from {named[0]}", [place])
        self._into(verb, who)
        if self.b.negating and _prep_objects(verb, ("at",)):
            for name, org in self._job_orgs(verb):  # "I'm no longer at Oracle"
                self._fact(who, "works_for", name, f"{who.claim} works at {name}", [org])
        for pobj in _prep_objects(verb, ("on",)):
            if pobj.lower_ == "diet" and (kind := _span_text([t for t in pobj.subtree if t.i < pobj.i][1:])):
                self._fact(who, "diet", kind.lower(), f"{who.claim} is on a {kind} diet")  # "on a keto diet"
        for item in _conjuncts(attr) if attr is not None else []:
            self._copula_attr(verb, item, who)

    def _into(self, verb: "Token", who: Speaker) -> None:
        """ "I'm into climbing", "I'm addicted to crossword puzzles", "I'm passionate about photography"."""
        attr = _attr(verb)
        heads = [verb] + ([attr] if attr is not None and attr.lower_ in FOND_WORDS else [])
        for pobj in (o for h in heads for o in _prep_objects(h, FOND_WORDS.get(h.lower_, ("into",)))):
            obj = _span_text([t for t in pobj.subtree if not (t.dep_ == "det" and t.i == pobj.left_edge.i)])
            if obj and pobj.lower_ not in _PRONOUNS_LIKED and pobj.is_alpha:
                self._fact(who, "likes", obj, f"{who.claim} likes {obj}", self.b.ner_in(list(pobj.subtree)))

    def _copula_attr(self, verb: "Token", attr: "Token", who: Speaker) -> None:
        for c in attr.children:  # "I'm a 25-year-old designer from Kenya"
            if (years := age_modifier(c)) is not None:
                self._fact(who, "age_is", years, f"{who.claim} is {years} years old")
        for pobj in _prep_objects(attr, ("from",)) if any(c.lower_ in ("a", "an") for c in attr.children) else []:
            if (named := _named(self.b.d, pobj, _LOC_LABELS | {"NORP"})) is not None:
                place = self.b.entity(named[0], "Location", "rule")
                self._fact(who, "is_from", named[0], f"{who.claim} is from {named[0]}", [place])
        age = self._age(attr)
        if age is not None:
            self._fact(who, "age_is", age, f"{who.claim} is {age} years old")
            return
        words = {attr.lower_} | {c.lower_ for c in attr.children if c.dep_ in ("amod", "compound")}
        text = "".join(t.text_with_ws for t in attr.subtree).strip().lower()
        diet = next((d for d in DIETS if d == attr.lower_ or d == text.removeprefix("a ").removeprefix("an ")), None)
        if diet is None and attr.lower_ == "free" and any(c.lower_ in ("gluten", "dairy") for c in attr.children):
            diet = next(c.lower_ for c in attr.children if c.lower_ in ("gluten", "dairy")) + "-free"
        if diet is not None:
            self._fact(who, "diet", diet, f"{who.claim} is {diet}")
            return
        if attr.lower_ in CONDITION_WORDS:
            cond = CONDITION_WORDS[attr.lower_]
            self._fact(who, "has_condition", cond, f"{who.claim} has {cond}")
            return
        if attr.lower_ == "intolerant" and (kinds := [w for w in words if w != "intolerant" and w.isalpha()]):
            cond = f"{kinds[0]} intolerance"
            self._fact(who, "has_condition", cond, f"{who.claim} has {cond}")
            return
        if attr.lower_ == "allergic":
            pobjs = _prep_objects(attr, ("to",))
            late = [c for c in verb.children if c.dep_ == "conj" and pobjs and c.i > pobjs[0].i]  # a parser slip
            pobjs += [c for c in attr.children if c.dep_ == "xcomp" and c.is_alpha]  # "allergic to/aux gluten"
            for pobj in pobjs:
                for item in _conjuncts(pobj) + late:
                    obj = _noun_phrase(item)
                    self._fact(who, "allergic_to", obj, f"{who.claim} is allergic to {obj}")
            return
        if attr.lower_ in ("student", "undergrad", "undergraduate", "pupil"):
            for pobj in _prep_objects(attr, ("at", "of", "in")):
                self._school(pobj, who, "studies_at")
            return

    def home_is(self, home: "Token") -> None:
        """'Home is Lisbon for me', 'Home for me is Vancouver these days'."""
        verb = home.head
        if verb.lower_ not in ("is", "'s") or polarity(verb) is not True or (who := self.me()) is None:
            return
        if not any(p.lower_ == "me" for p in _prep_objects(verb, ("for",)) + _prep_objects(home, ("for",))):
            return
        attr = _attr(verb)
        named = _named(self.b.d, attr, _LOC_LABELS | {"ORG", "PERSON"}) if attr is not None else None
        if named is not None:
            place = self.b.entity(named[0], "Location", "rule")
            self._fact(who, "lives_in", named[0], f"{who.claim} lives in {named[0]}", [place], relation=True)

    @staticmethod
    def _age(attr: "Token") -> str | None:
        num = attr if attr.like_num else None
        if num is None and attr.lower_ == "old":
            num = next((t for t in attr.subtree if t.like_num), None)
        if num is None or not num.text.isdigit() or not 0 < int(num.text) < 120:
            return None
        if attr.lower_ != "old" and any(c.dep_ in ("prep", "pobj", "npadvmod") for c in attr.children):
            return None
        return num.text

    def age_turned(self, verb: "Token", who: Speaker) -> None:
        """'I just turned 30'."""
        obj = next((c for c in verb.children if c.dep_ in ("dobj", "attr", "oprd", "npadvmod")), None)
        if obj is not None and obj.text.isdigit() and 0 < int(obj.text) < 120 and not self.b.negating:
            self._fact(who, "age_is", obj.text, f"{who.claim} is {obj.text} years old")
