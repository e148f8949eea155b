"""Habits: I <do something> every morning / on Sundays / daily / at 6am -> habit."""

import re
from typing import TYPE_CHECKING

from memory_runtime.extraction.personal.base import FREQUENCY_ADVERBS, ClauseRules, Speaker
from memory_runtime.extraction.rules import (
    _aux,
    _span_text,
    _subject,
)

if TYPE_CHECKING:
    from spacy.tokens import Token

HABIT_ADVERBS = frozenset("usually always normally generally typically regularly often".split())
_TIME_NOUNS = frozenset(
    "morning mornings evening evenings night nights afternoon afternoons day days week weekend weekends".split()
)
_SCHEDULE_ADVERBS = frozenset("daily weekly nightly monthly everyday".split())
_DAY_PLURALS = re.compile(r"^(mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|sundays|weekends|weekdays)$")
_THIRD_PERSON_VERB = {"have": "has", "go": "goes", "do": "does", "be": "is"}


def _third_person(verb: str) -> str:
    """'go' -> 'goes', 'play' -> 'plays', 'study' -> 'studies' (for claims about someone)."""
    if verb in _THIRD_PERSON_VERB:
        return _THIRD_PERSON_VERB[verb]
    if verb.endswith(("s", "sh", "ch", "x", "o")):
        return verb + "es"
    if verb.endswith("y") and len(verb) > 1 and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


class HabitRules(ClauseRules):
    """What someone does regularly."""

    def _schedule(self, verb: "Token") -> list["Token"]:
        """The modifiers of `verb` that say how often or when: every morning, on Sundays, daily, at 6am, three
        times a week, most evenings (on the verb, its object, or the object of its preposition)."""
        heads = [verb] + [c for c in verb.children if c.dep_ in ("xcomp", "dobj")]
        heads += [
            g for h in list(heads) for c in h.children if c.dep_ == "prep" for g in c.children if g.dep_ == "pobj"
        ]
        return [c for h in heads for c in h.children if self._is_schedule(c)]

    def _is_schedule(self, c: "Token") -> bool:
        if c.dep_ in ("npadvmod", "advmod", "obl", "dobj"):
            if any(g.lower_ in ("every", "each") for g in c.children) or c.lower_ in _SCHEDULE_ADVERBS:
                return c.dep_ != "dobj" or c.lower_ in _TIME_NOUNS or _DAY_PLURALS.match(c.lower_) is not None
            if c.lower_ in ("twice", "once") or (c.lower_ == "times" and any(g.like_num for g in c.children)):
                return True
            if c.lower_ in _TIME_NOUNS and any(g.lower_ in ("most", "some", "many") for g in c.children):
                return True  # "most evenings"
            return c.lower_ in ("week", "month", "day") and any(
                g.lower_ in ("twice", "once", "times") or g.like_num for g in c.subtree
            )
        if c.dep_ != "prep":
            return False
        pobj = next((g for g in c.children if g.dep_ == "pobj"), None)
        if pobj is None:
            return False
        return bool(
            (c.lower_ == "on" and _DAY_PLURALS.match(pobj.lower_))
            or (
                c.lower_ == "in"
                and pobj.lower_ in ("mornings", "evenings", "afternoons", "morning", "evening", "afternoon")
            )
            or (c.lower_ == "at" and pobj.ent_type_ == "TIME")
        )

    def habit(self, verb: "Token", who: Speaker) -> bool:
        """'I go running every morning', 'I play tennis on Sundays', 'I meditate daily', 'I usually walk to work',
        'Every Sunday I call my parents' (the phrase keeps the sentence's order; a fronted schedule goes last)."""
        if _aux(verb) - {"do", "does"} or verb.lower_.endswith(("ed", "ing")) or self.b.negating:
            return False
        schedule = self._schedule(verb)
        usual = any(c.dep_ == "advmod" and c.lower_ in HABIT_ADVERBS for c in verb.children)
        if not schedule and not usual:
            return False
        fronted = [t for t in schedule if t.i < verb.i]
        skip = {t.i for s in fronted for t in s.subtree}
        subj = _subject(verb)
        if subj is not None:
            skip |= {t.i for t in subj.subtree}
        words = [
            t
            for t in verb.subtree
            if t.i not in skip
            and not t.is_punct
            and t.lower_ not in FREQUENCY_ADVERBS
            and t.dep_ not in ("cc", "neg")
            and not (t.dep_ == "aux" and (t.i < verb.i or t.lower_ != "to"))
            and not (t.dep_ == "conj" and t.head.i == verb.i)
            and not (t.i > verb.i and t.head.dep_ == "conj" and t.head.head.i == verb.i)
            and not (t.i < verb.i and t.dep_ in ("advmod", "intj"))
        ]
        if not words or len(words) > 10 or (not schedule and len(words) < 2):
            return False
        rhythm = " ".join(_span_text(list(s.subtree)) for s in sorted(fronted, key=lambda t: t.i))
        if fronted and rhythm[:1].isupper() and rhythm.split()[0].lower() in ("on", "every", "each", "most", "in"):
            rhythm = rhythm[0].lower() + rhythm[1:]  # "On Sundays I bake" -> "bake bread on Sundays"
        phrase = f"{_span_text(words)} {rhythm}".strip()
        first, _, rest = phrase.partition(" ")
        claim = f"{who.claim} {_third_person(first.lower())}{' ' + rest if rest else ''}"
        self._fact(who, "habit", phrase, claim)
        return True
