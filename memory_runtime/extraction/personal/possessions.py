"""Things: I have/own/bought a X, my new X -> owns; I sold X, I got rid of X -> not owns. `have` also reads
the allergies, conditions, trips and appointments a possession sentence can name.
"""

from typing import TYPE_CHECKING

from memory_runtime.extraction.lexicon import PET_NOUNS, RELATION_NOUNS, singular
from memory_runtime.extraction.personal.base import DEGREE_WORDS, TRIP_NOUNS, Speaker, _conjuncts, _noun_phrase
from memory_runtime.extraction.personal.health import CONDITIONS
from memory_runtime.extraction.personal.places import PlaceRules
from memory_runtime.extraction.rules import (
    _ADVERBS,
    _DETERMINERS,
    _prep_objects,
)

if TYPE_CHECKING:
    from spacy.tokens import Token

EVENT_NOUNS = frozenset(
    """appointment meeting interview exam test wedding party concert flight conference presentation deadline
    surgery checkup check-up game match recital race marathon dinner date""".split()
)
NOT_POSSESSIONS = frozenset(
    """question idea problem issue meeting appointment call interview plan lot bit feeling chance minute moment
    time day week month year job question doubt clue point look try go reason need way feeling sense kind sort
    thing something anything nothing everything one few couple lunch breakfast dinner headache cold fever""".split()
)
NOT_OWNED = frozenset(  # "my new ..." that nobody owns
    """job role position boss manager team city town neighbourhood neighborhood school class course year hobby
    favourite favorite place home project client colleague friend flatmate roommate haircut look""".split()
)


class PossessionRules(PlaceRules):
    """What someone has, owns or got rid of."""

    def have(self, verb: "Token", who: Speaker) -> None:
        """'I have a dentist appointment next Friday' (plan), 'I have diabetes', 'I own a Tesla' (owns)."""
        for obj in (c for c in verb.children if c.dep_ == "dobj"):
            low = obj.lower_
            if low in RELATION_NOUNS or low in PET_NOUNS or singular(low) in PET_NOUNS:
                continue  # relation_noun
            if low in DEGREE_WORDS:
                continue  # degree
            if low in ("allergy", "allergies"):
                targets = [_noun_phrase(c) for c in obj.children if c.dep_ == "compound"]
                targets += [_noun_phrase(i) for p in _prep_objects(obj, ("to",)) for i in _conjuncts(p)]
                for t in targets:
                    self._fact(who, "allergic_to", t, f"{who.claim} is allergic to {t}")
                continue
            phrase = _noun_phrase(obj)
            if (
                low in CONDITIONS
                or low in ("pain", "disease", "disorder", "syndrome")
                or phrase.lower() in ("celiac disease", "high blood pressure", "type 2 diabetes")
            ):
                cond = phrase.lower()
                self._fact(who, "has_condition", cond, f"{who.claim} has {cond}")
                continue
            if low in TRIP_NOUNS and self.trip(verb, obj, who):
                return
            if low in EVENT_NOUNS:
                when = self.when(verb)
                if when is not None and not self.b.negating:
                    self._fact(who, "plans", phrase.lower(), f"{who.claim} has a {phrase.lower()}", when=when)
                continue
            if low in NOT_POSSESSIONS or not obj.is_alpha and not obj.text.isalnum():
                continue
            if obj.lower_ in _DETERMINERS or obj.lower_ in ("myself", "yourself", "one"):
                continue
            self._owns(who, obj)

    def _owns(self, who: Speaker, obj: "Token") -> None:
        """`who` owns the thing `obj` ("a new laptop" -> laptop, "three guitars" -> guitar, "a MacBook Pro")."""
        ent = self.b.d.entity(obj)
        article = any(c.dep_ == "det" and c.lower_ in ("a", "an") for c in obj.children)
        if ent is not None and ent.label_ in ("PERSON", "GPE") and not article:
            return  # "I have Anna" / "I have Paris" are not possessions
        thing = _noun_phrase(obj)  # "a Honda Civic", "an electric scooter"
        if ent is None and (obj.lower_.endswith("s") or any(c.dep_ == "nummod" and c.i < obj.i for c in obj.children)):
            head, _, _ = thing.rpartition(" ")
            thing = f"{head} {singular(obj.text)}".strip()  # "three guitars" -> guitar
        model = [c.text for c in obj.children if c.dep_ == "nummod" and c.i == obj.i + 1]
        thing = " ".join([thing, *model])  # "an iPhone 15"
        if not thing or thing.lower() in _ADVERBS or obj.lower_ in NOT_POSSESSIONS:
            return
        named = ent is not None or not thing.islower()
        self._fact(who, "owns", thing if named else thing.lower(), f"{who.claim} owns {thing}")

    def new_thing(self, noun: "Token") -> None:
        """'my new bike is amazing', 'I love my new car': the speaker owns it."""
        owner = next((c for c in noun.children if c.dep_ == "poss" and c.lower_ in ("my", "our")), None)
        low = noun.lower_
        if owner is None or not noun.is_alpha or low in NOT_POSSESSIONS or low in RELATION_NOUNS or low in PET_NOUNS:
            return
        if low in NOT_OWNED or self.b.d.entity(noun, frozenset({"PERSON", "GPE", "ORG"})) is not None:
            return
        if (who := self.me()) is not None:
            self._owns(who, noun)

    def disowned(self, verb: "Token", who: Speaker) -> None:
        """'I sold my bike', 'I got rid of my TV': no longer owned (a negated owns)."""
        objs = [c for c in verb.children if c.dep_ == "dobj"] + _prep_objects(
            verb, ("of",) if verb.lower_ == "rid" else ()
        )
        self.b.negating = True
        try:
            for obj in objs:
                if obj.lower_ not in NOT_POSSESSIONS and obj.lower_ not in RELATION_NOUNS and obj.is_alpha:
                    self._owns(who, obj)
        finally:
            self.b.negating = False
