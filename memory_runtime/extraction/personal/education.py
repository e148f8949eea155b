"""Education: I studied/study X (at S), I majored in X, I have a degree in X -> field_of_study, studied_at /
studies_at; I graduated from S; I'm a student at S -> studies_at.
"""

from typing import TYPE_CHECKING

from memory_runtime.extraction.personal.base import ClauseRules, Speaker, _conjuncts, _noun_phrase
from memory_runtime.extraction.rules import (
    _LOC_LABELS,
    _attr,
    _aux,
    _named,
    _prep_objects,
    _subject,
    polarity,
)

if TYPE_CHECKING:
    from spacy.tokens import Token

_SCHOOL_WORDS = frozenset("university college school institute academy polytechnic uni grad".split())
_DEGREE_VERBS = frozenset(
    """have has 've got get getting did do doing done finished finishing completed completing earned hold
    pursuing working studying""".split()
)
_DEGREE_UNDERWAY = frozenset("doing getting pursuing working studying finishing completing".split())


class EducationRules(ClauseRules):
    """Schools, degrees and fields of study."""

    def _school(self, pobj: "Token", who: Speaker, predicate: str) -> None:
        named = _named(self.b.d, pobj)
        if named is None:
            return
        school = self.b.entity(named[0], "Organization", "rule")
        verb = "studies" if predicate == "studies_at" else "studied"
        self._fact(
            who, predicate, named[0], f"{who.claim} {verb} at {named[0]}", [school], relation=predicate == "studies_at"
        )

    def degree(self, noun: "Token") -> None:
        """'I have a degree in X', 'I did my PhD at S', "I'm doing a master's in X at S", 'a degree from S',
        'my degree is in X', 'my major is X'."""
        verb = noun.head
        if noun.dep_ == "pobj" and verb.lower_ in ("on", "for", "towards"):
            verb = verb.head  # "working on a PhD", "studying for a law degree"
        elif noun.dep_ == "conj":
            verb = noun.head.head
        fields: list[Token] = []
        if noun.dep_ == "nsubj" and verb.lower_ in ("is", "'s", "was"):  # "my degree is in X", "my major is X"
            who = self.owner(noun)
            attr = _attr(verb)
            fields = _prep_objects(verb, ("in",)) + ([attr] if attr is not None else [])
            schools: list[Token] = []
            present = noun.lower_ == "major"
        else:
            subj = _subject(verb) if verb.lower_ in _DEGREE_VERBS else None
            who = self.speaker(subj) if subj is not None else None
            present = verb.lower_ in _DEGREE_UNDERWAY
            schools = _prep_objects(noun, ("at", "from")) + _prep_objects(verb, ("at", "from"))
        if who is None or polarity(verb) is not True:
            return
        fields += _prep_objects(noun, ("in", "of")) + (_prep_objects(verb, ("in",)) if verb is not noun.head else [])
        if verb is noun.head and noun.dep_ == "dobj":
            fields += _prep_objects(verb, ("in",))
        for f in fields:
            schools += _prep_objects(f, ("at", "from"))  # "a master's in psychology from Harvard"
            if self.b.d.entity(f, _LOC_LABELS | frozenset({"ORG"})) is not None:
                schools.append(f)
                continue
            for item in _conjuncts(f):
                subject = _noun_phrase(item).lower()
                if subject and item.is_alpha and subject not in _SCHOOL_WORDS:
                    self._fact(who, "field_of_study", subject, f"{who.claim} studies {subject}")
        for pobj in schools:
            self._school(pobj, who, "studies_at" if present else "studied_at")

    def school_year(self, verb: "Token", who: Speaker) -> bool:
        """ "I'm in my final year at Warwick", 'I went to college at Duke', 'I go to university in Leeds'."""
        low = verb.lower_
        places = [p for p in _prep_objects(verb, ("in", "to")) if p.lower_ in {"year", "semester"} | _SCHOOL_WORDS]
        if not places:
            return False
        present = low not in ("went", "was")
        for pobj in _prep_objects(verb, ("at",)) + [g for p in places for g in _prep_objects(p, ("at",))]:
            self._school(pobj, who, "studies_at" if present else "studied_at")
        return True

    def education(self, verb: "Token", who: Speaker) -> None:
        """'I studied physics at MIT', 'I'm studying law', 'I majored in X', 'I graduated from S'."""
        low = verb.lower_
        present = low in ("study", "studies") or (low in ("studying", "majoring") and _aux(verb))
        if low == "graduated":
            for pobj in _prep_objects(verb, ("from",)):
                self._school(pobj, who, "studied_at")
            return
        fields = [c for c in verb.children if c.dep_ == "dobj"] + _prep_objects(verb, ("in",))
        for f in fields:
            if self.b.d.entity(f, _LOC_LABELS | frozenset({"ORG"})) is not None:
                self._school(f, who, "studies_at" if present else "studied_at")
                continue
            for item in _conjuncts(f):
                subject = _noun_phrase(item).lower()
                if subject and item.is_alpha:
                    self._fact(who, "field_of_study", subject, f"{who.claim} studies {subject}")
        for pobj in _prep_objects(verb, ("at",)) + [p for f in fields for p in _prep_objects(f, ("at",))]:
            self._school(pobj, who, "studies_at" if present else "studied_at")
