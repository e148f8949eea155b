"""Places and trips: I grew up in X, I was born in X -> is_from; I'm flying/travelling/going to X <date>,
I'm visiting X, I have a trip to X -> travels_to (+ when); I'm moving to X -> plans.
"""

from typing import TYPE_CHECKING

from memory_runtime.extraction.personal.base import TRIP_NOUNS, ClauseRules, Speaker, _has_future_only_modal
from memory_runtime.extraction.rules import (
    _LOC_LABELS,
    _aux,
    _named,
    _prep_objects,
)

if TYPE_CHECKING:
    from spacy.tokens import Token


class PlaceRules(ClauseRules):
    """Where someone is from and where they travel."""

    def origin(self, verb: "Token", who: Speaker) -> None:
        """'I grew up in Krakow', 'I was born in Lyon'."""
        if verb.lower_ in ("grew", "brought") and not any(c.lower_ == "up" for c in verb.children):
            return
        for pobj in _prep_objects(verb, ("in",)):
            named = _named(self.b.d, pobj, _LOC_LABELS)
            if named is not None:
                place = self.b.entity(named[0], "Location", "rule")
                self._fact(who, "is_from", named[0], f"{who.claim} is from {named[0]}", [place])

    def travel(self, verb: "Token", who: Speaker) -> bool:
        """'I'm flying to Lisbon next Friday', 'I'm visiting Rome in May', "I'll travel to Japan"."""
        low = verb.lower_
        progressive = bool(_aux(verb) & {"'m", "am", "m", "is", "'s", "are", "'re"})
        if not (progressive or _has_future_only_modal(verb) or verb.dep_ == "xcomp"):
            return False
        targets = _prep_objects(verb, ("to",))
        objects = [c for c in verb.children if c.dep_ == "dobj"]
        if low in ("taking", "take"):  # "I'm taking the train to Paris"
            targets += [p for o in objects if o.lower_ in TRIP_NOUNS for p in _prep_objects(o, ("to",))]
        if low in ("visiting", "visit"):  # "visiting Rome", "visiting my parents in Leeds"
            targets += objects + [p for o in objects for p in _prep_objects(o, ("in",))] + _prep_objects(verb, ("in",))
        found = False
        for pobj in targets:
            named = _named(self.b.d, pobj, _LOC_LABELS)
            if named is None:
                continue
            place = self.b.entity(named[0], "Location", "rule")
            when = self.when(verb)
            self._fact(who, "travels_to", named[0], f"{who.claim} travels to {named[0]}", [place], when=when)
            found = True
        return found

    def moving(self, verb: "Token", who: Speaker) -> None:
        """ "I'm moving to Berlin in October": a plan to move (lives_in holds once it happened)."""
        for pobj in _prep_objects(verb, ("to",)):
            named = _named(self.b.d, pobj, _LOC_LABELS)
            if named is not None:
                place = self.b.entity(named[0], "Location", "rule")
                phrase = f"move to {named[0]}"
                self._fact(who, "plans", phrase, f"{who.claim} plans to {phrase}", [place], when=self.when(verb))

    def trip(self, verb: "Token", obj: "Token", who: Speaker) -> bool:
        """'I have a trip to Rome in May', "I've booked a flight to Chicago for next Tuesday"."""
        for pobj in _prep_objects(obj, ("to",)) + _prep_objects(verb, ("to",)):
            named = _named(self.b.d, pobj, _LOC_LABELS)
            if named is not None:
                place = self.b.entity(named[0], "Location", "rule")
                claim = f"{who.claim} travels to {named[0]}"
                self._fact(who, "travels_to", named[0], claim, [place], when=self.when(verb))
                return True
        return False
