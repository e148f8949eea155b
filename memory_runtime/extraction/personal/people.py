"""People and pets: 'my manager Tomasz', 'Tomasz is my manager', 'a dog named Rex' -> has_manager, has_pet..."""

from typing import TYPE_CHECKING

from memory_runtime.extraction.lexicon import PET_NOUNS, RELATION_NOUNS, singular
from memory_runtime.extraction.personal.base import HAVE_VERBS, ClauseRules, Speaker
from memory_runtime.extraction.rules import (
    _attr,
    _subject,
    polarity,
)

if TYPE_CHECKING:
    from spacy.tokens import Token

RELATION_WORDS = {  # how a claim reads: "User's manager is Tomasz"
    "has_manager": "manager",
    "has_colleague": "colleague",
    "has_report": "report",
    "has_spouse": "spouse",
    "has_partner": "partner",
    "has_parent": "parent",
    "has_child": "child",
    "has_sibling": "sibling",
    "has_relative": "relative",
    "has_friend": "friend",
    "has_roommate": "roommate",
    "has_pet": "pet",
}


def ids_equal(a: str, b: str) -> bool:
    """Whether two names are the same once normalised."""
    from memory_runtime.domain.ids import normalize_name

    return normalize_name(a) == normalize_name(b)


class PeopleRules(ClauseRules):
    """Relations to people and pets, from the relation noun of a clause."""

    @staticmethod
    def _named_by(tok: "Token") -> "Token | None":
        """The name a noun is given: 'a dog named Rex', 'a beagle called Pepper' (the acl's object)."""
        for c in tok.children:
            if c.dep_ == "acl" and c.lower_ in ("named", "called"):
                return next((g for g in c.children if g.dep_ in ("oprd", "xcomp", "attr", "dobj", "npadvmod")), None)
        return None

    def _had_by(self, noun: "Token") -> "tuple[Speaker, Token] | None":
        """(who, verb) when `noun` (or the noun it is conjoined to) is the object of have/own/got/adopted."""
        top = noun
        while top.dep_ == "conj":
            top = top.head
        verb = top.head
        if top.dep_ != "dobj" or verb.lower_ not in HAVE_VERBS or polarity(verb) is None:
            return None
        subj = _subject(verb)
        who = self.speaker(subj) if subj is not None else None
        return (who, verb) if who is not None else None

    def relation_noun(self, noun: "Token") -> None:
        """'my manager Tomasz', 'Tomasz is my manager', 'Kofi, my flatmate', 'my boss is Maria', 'a dog named
        Rex', 'I have two cats', "Jake isn't my boyfriend anymore" (a denied relation)."""
        low = noun.lower_ if noun.lower_ in RELATION_NOUNS or noun.lower_ in PET_NOUNS else singular(noun.lower_)
        predicate = "has_pet" if low in PET_NOUNS else RELATION_NOUNS[low]
        who = self.owner(noun)
        name: str | None = None
        verb = noun.head
        denied = False
        had = self._had_by(noun) if predicate == "has_pet" else None
        if who is None and had is not None:
            who, verb = had  # "I have a dog named Rex"
            denied = polarity(verb) is False
        if who is None:
            return
        for c in noun.children:
            if c.dep_ == "appos":
                name = self.b.d.person_name(c) if c.is_title else None
                target = self._named_by(c) if name is None else None  # "our dog, a beagle named Pepper"
                name = self.b.d.person_name(target) if target is not None else name
            elif (target := self._named_by(noun)) is not None:
                name = self.b.d.person_name(target)
        if name is None and noun.dep_ == "appos" and noun.head.is_title:
            name = self.b.d.person_name(noun.head)  # "Kofi, my flatmate, works at Google"
        if name is None and noun.dep_ == "nsubjpass" and verb.lower_ in ("called", "named"):
            target = next((c for c in verb.children if c.dep_ in ("oprd", "attr", "xcomp")), None)
            name = self.b.d.person_name(target) if target is not None else None  # "my cat is called Bella"
        if name is None and noun.dep_ == "compound" and noun.head.i == noun.i + 1:
            name = self.b.d.person_name(noun.head)  # "my friend Jake" parsed as a compound name
        if name is None and noun.dep_ == "poss" and verb.lower_ == "name" and verb.dep_ == "nsubj":
            noun, verb = verb, verb.head  # "my girlfriend's name is Mai"
        if name is None and verb.lower_ in ("is", "'s", "was") and polarity(verb) is not None:
            other = _attr(verb) if noun.dep_ == "nsubj" else (_subject(verb) if noun.dep_ == "attr" else None)
            if other is not None and other.i != noun.i:
                name = self.b.d.person_name(other)
                denied = polarity(verb) is False
        if name is None:
            if had is not None:
                self._denied(denied, who, "has_pet", low, f"{who.claim} has a {low}")
            return
        if ids_equal(name, who.subject):
            return
        type_ = "Other" if predicate == "has_pet" else "Person"
        other_entity = self.b.entity(name, type_, "rule")
        word = RELATION_WORDS[predicate] if predicate != "has_pet" else low
        claim = f"{who.claim}'s {word} is {name}"
        self._denied(denied, who, predicate, name, claim, [other_entity], relation=True)
