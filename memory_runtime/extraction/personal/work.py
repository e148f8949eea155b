"""Employment: I started/joined/got a job at X -> works_for; I left/quit X -> not works_for; my company is X;
I got promoted to <role> -> is_a.
"""

from typing import TYPE_CHECKING

from memory_runtime.extraction.personal.base import Speaker, _noun_phrase
from memory_runtime.extraction.personal.possessions import PossessionRules
from memory_runtime.extraction.rules import (
    _attr,
    _named,
    _prep_objects,
    polarity,
)
from memory_runtime.extraction.types import EntityMention

if TYPE_CHECKING:
    from spacy.tokens import Token


class WorkRules(PossessionRules):
    """Employers, job changes and promotions."""

    def my_company(self, noun: "Token") -> None:
        """'My company is Globex', 'My employer, Initech, ...'."""
        who = self.owner(noun)
        verb = noun.head
        if who is None or verb.lower_ not in ("is", "'s") or polarity(verb) is not True:
            return
        attr = _attr(verb)
        named = self._employer(attr) if attr is not None else None
        if named is not None:
            self._fact(who, "works_for", named[0], f"{who.claim} works at {named[0]}", [named[1]], relation=True)

    def _employer(self, tok: "Token") -> tuple[str, EntityMention | None] | None:
        named = _named(self.b.d, tok, frozenset({"ORG", "PRODUCT", "NORP", "FAC", "WORK_OF_ART", "GPE"}))
        if named is None:
            return None
        return named[0], self.b.entity(named[0], "Organization", "rule")

    def _job_orgs(self, verb: "Token") -> list[tuple[str, EntityMention | None]]:
        """The employers a job verb names: 'X' (dobj), 'a job at X', 'working at X', 'by X', 'from X'."""
        out = []
        heads = [verb] + [
            c
            for c in verb.children
            if c.dep_ in ("dobj", "xcomp")
            and c.lower_ in ("job", "position", "role", "working", "work", "gig", "internship")
        ]
        for head in heads:
            for pobj in _prep_objects(head, ("at", "with", "for", "by", "from")):
                if (org := self._employer(pobj)) is not None:
                    out.append(org)
        for c in verb.children:
            if c.dep_ == "dobj" and (org := self._employer(c)) is not None:
                out.append(org)
        return out

    def job_start(self, verb: "Token", who: Speaker) -> None:
        """'I started a new job at Stripe', 'I joined Globex', 'I got hired by X'."""
        low = verb.lower_
        if low == "got" and not any(c.lower_ in ("job", "position", "hired", "offer") for c in verb.subtree):
            self.have(verb, who)
            return
        for name, org in self._job_orgs(verb):
            self._fact(who, "works_for", name, f"{who.claim} works at {name}", [org], relation=True)
        if low == "got":
            for c in verb.children:
                if c.lower_ == "promoted":
                    self._promoted(c, who)

    def _promoted(self, verb: "Token", who: Speaker) -> None:
        for pobj in _prep_objects(verb, ("to",)):
            role = _noun_phrase(pobj)
            if role:
                self._fact(who, "is_a", role.lower(), f"{who.claim} is a {role}")

    def job_end(self, verb: "Token", who: Speaker) -> None:
        """'I left Google', 'I quit my job at Deloitte': the employment ends (a negated works_for)."""
        if self.b.negating:
            return
        self.b.negating = True
        try:
            for name, org in self._job_orgs(verb):
                self._fact(who, "works_for", name, f"{who.claim} works at {name}", [org])
        finally:
            self.b.negating = False
