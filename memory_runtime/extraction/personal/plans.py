"""Plans: I'm planning to X, I'm going to X, I will fly to X -> plans / travels_to (+ when)."""

from typing import TYPE_CHECKING

from memory_runtime.extraction.personal.base import _PROGRESSIVE, _TRAVEL_VERBS, FREQUENCY_ADVERBS, Speaker
from memory_runtime.extraction.personal.places import PlaceRules
from memory_runtime.extraction.rules import (
    _aux,
    _span_text,
)

if TYPE_CHECKING:
    from spacy.tokens import Token


class PlanRules(PlaceRules):
    """What someone plans or is about to do."""

    def plan(self, verb: "Token", who: Speaker) -> None:
        """'I'm planning to run a marathon in October', 'I plan to learn Spanish'."""
        xcomp = next((c for c in verb.children if c.dep_ == "xcomp"), None)
        if xcomp is not None and not self.travel(xcomp, who):
            self._plan_phrase(xcomp, who, verb)

    def _plan_phrase(self, xcomp: "Token", who: Speaker, verb: "Token") -> None:
        skip: set[int] = set()
        date_ents = [e for e in xcomp.doc.ents if e.label_ in ("DATE", "TIME")]
        for e in date_ents:
            skip.update(range(e.start, e.end))
            if e.start > 0 and xcomp.doc[e.start - 1].dep_ == "prep":
                skip.add(e.start - 1)
        words = [
            t
            for t in xcomp.subtree
            if t.i not in skip
            and not t.is_punct
            and t.lower_ != "to"
            or (t.lower_ == "to" and t.i != xcomp.left_edge.i and t.dep_ != "aux")
        ]
        words = [t for t in words if t.lower_ not in FREQUENCY_ADVERBS and not (t.is_punct)]
        phrase = _span_text(words)
        if not phrase or len(words) > 8 or any(t.lower_ in ("it", "that", "this", "you") for t in words):
            return
        when = self.when(verb)
        self._fact(who, "plans", phrase, f"{who.claim} plans to {phrase}", when=when)

    def going_to(self, verb: "Token", who: Speaker) -> bool:
        """'I'm going to visit Rome' (travel) or 'I'm going to run a marathon' (a plan)."""
        xcomp = next((c for c in verb.children if c.dep_ == "xcomp"), None)
        if xcomp is None or not _aux(verb) & _PROGRESSIVE:  # "I was going to fly to Oslo" did not happen
            return False
        if xcomp.lower_ in ("visit", "travel", "fly", "go") and self.travel(xcomp, who):
            return True
        self._plan_phrase(xcomp, who, verb)
        return True

    def future(self, verb: "Token", who: Speaker) -> None:
        """'I will fly to Rome next week' (a modal of the future, not of doubt)."""
        if verb.lower_ in _TRAVEL_VERBS or verb.lower_ in ("visit",):
            self.travel(verb, who)
