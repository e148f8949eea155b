"""What every family of personal rules shares: who a clause is about (`Speaker`), when it happened, how a
fact is written, the noun-phrase helpers, and the word lists more than one family reads.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memory_runtime.extraction.dates import resolve_date
from memory_runtime.extraction.rules import (
    CONF_FIRST_PERSON,
    _Builder,
    _span_text,
    speaks_for_self,
)
from memory_runtime.extraction.types import USER_SUBJECT, EntityMention

if TYPE_CHECKING:
    from datetime import datetime

    from spacy.tokens import Token

DEGREE_WORDS = frozenset(
    "degree degrees bachelor bachelors master masters phd doctorate mba undergrad diploma bsc msc ba ma".split()
)
HAVE_VERBS = frozenset("have has 've got own owns bought adopted drive drives".split())
TRIP_NOUNS = frozenset("trip flight flights vacation holiday ticket tickets train ferry cruise".split())
_PROGRESSIVE = frozenset({"'m", "am", "m", "is", "'s", "are", "'re"})
_FUTURE_MODALS = frozenset({"will", "'ll", "ll", "shall"})
FREQUENCY_ADVERBS = frozenset("usually always often normally generally sometimes typically regularly also".split())
_TRAVEL_VERBS = frozenset(
    "travelling traveling flying going heading driving travel fly go head drive off taking sailing".split()
)


@dataclass(frozen=True)
class Speaker:
    """Who a clause is about: the subject written into the fact, how claims name it, and its entity."""

    subject: str
    claim: str
    mention: EntityMention | None
    confidence: float


def _noun_phrase(noun: "Token", drop: Iterable[str] = ()) -> str:
    """The noun with its left modifiers (no determiners, possessives, numbers or `drop` words)."""
    dropped = set(drop) | {"new", "own", "old"}
    words = [
        c
        for c in noun.children
        if c.i < noun.i and c.dep_ in ("compound", "amod", "nmod") and c.lower_ not in dropped and c.is_alpha
    ]
    run = [noun]
    for w in sorted(words, key=lambda t: -t.i):
        if w.i == run[0].i - 1:
            run.insert(0, w)
    return _span_text(run)


def _conjuncts(tok: "Token") -> list["Token"]:
    """`tok` and the tokens conjoined to it ("peanuts and shellfish")."""
    out = [tok]
    for c in tok.children:
        if c.dep_ == "conj":
            out.extend(_conjuncts(c))
    return out


def _has_future_only_modal(verb: "Token") -> bool:
    modals = {c.lower_ for c in verb.children if c.dep_ == "aux" and c.lower_ not in ("do", "does", "did", "to")}
    modals -= {"am", "'m", "m", "is", "'s", "are", "'re", "be", "been", "have", "'ve", "has"}
    return bool(modals) and modals <= _FUTURE_MODALS


class ClauseRules:
    """What every rule family shares: the builder facts go to, the turn's time, who a clause is about, when."""

    def __init__(self, builder: _Builder, said_at: "datetime | None") -> None:
        self.b = builder
        self.said_at = said_at

    def speaker(self, subj: "Token") -> Speaker | None:
        """The subject of a clause as a Speaker: the speaker's own "I", or a named person."""
        if speaks_for_self(subj):
            return self.me()
        who = self.b.named_subject(subj)
        if who is None or who[1] != "PERSON":
            return None
        return Speaker(who[0], who[0], self.b.entity(who[0], "Person", "PERSON"), self.b.third_conf)

    def me(self) -> Speaker | None:
        """The speaker as a Speaker (None in an assistant's turn without a speaker: nobody to remember)."""
        return Speaker(USER_SUBJECT, "User", None, CONF_FIRST_PERSON) if self.b.first_person else None

    def owner(self, noun: "Token") -> Speaker | None:
        """Whose <relation noun> this is: "my" (the speaker), "Anna's", "her" (after one person)."""
        owners = list(noun.children)
        if noun.dep_ == "compound":  # "my girlfriend Mai": the possessive hangs on the name
            owners += list(noun.head.children)
        for c in owners:
            if c.dep_ != "poss":
                continue
            if c.lower_ in ("my", "our"):
                return self.me()
            return self.speaker(c) if c.lower_ not in ("your", "their", "its") else None
        return None

    def when(self, verb: "Token") -> str | None:
        """The date a clause names (a DATE entity in its subtree), resolved against the turn's time."""
        if self.said_at is None:
            return None
        lo, hi = verb.left_edge.i, verb.right_edge.i
        for ent in verb.doc.ents:
            if ent.label_ in ("DATE", "TIME") and lo <= ent.start and ent.end - 1 <= hi:
                text = ent.text
                prev = verb.doc[ent.start - 1] if ent.start > 0 else None
                if prev is not None and prev.lower_ in ("in", "on", "by"):
                    text = f"{prev.lower_} {text}"
                found = resolve_date(text, self.said_at)
                if found is not None:
                    return found
        return None

    def _fact(
        self,
        who: Speaker,
        predicate: str,
        obj: str,
        claim: str,
        entities: Iterable[EntityMention | None] = (),
        *,
        when: str | None = None,
        relation: bool = False,
    ) -> None:
        self.b.fact(
            who.subject, predicate, obj, claim, who.confidence, [who.mention, *entities], when=when, relation=relation
        )

    def _denied(self, denied: bool, who: Speaker, *args: Any, **kwargs: Any) -> None:
        """A fact, negated when `denied` (for rules that run outside a clause's polarity)."""
        before = self.b.negating
        self.b.negating = before or denied
        try:
            self._fact(who, *args, **kwargs)
        finally:
            self.b.negating = before
