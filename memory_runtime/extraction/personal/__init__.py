"""Rules for the everyday facts a person would write down, on top of the core rules of `rules.py`.

Each rule reads one clause (a verb of a statement) whose subject is the speaker ("I", subject `user`) or
someone named (a named entity, "my manager Tomasz", or "she"/"he" after exactly one person: see
`rules._Builder.named_subject`). Denied clauses ("I don't eat meat anymore") give negated facts, which
consolidation uses to invalidate the positive fact. Predicates come from `domain.vocabulary.FACT_PREDICATES`.

  people      my <manager|colleague|wife|sister|friend|dog…> <Name>, <Name> is my <…>, my <…> is <Name>,
              a dog named Rex                                          -> has_manager, has_sibling, has_pet…
  identity    I'm 34 (years old), I just turned 30                      -> age_is
  employment  I started/joined/got a job at X -> works_for; I left/quit X -> not works_for; my company is X;
              I got promoted to <role> -> is_a
  places      I'm (originally) from X, I grew up in X, I was born in X  -> is_from
              I'm flying/travelling/going to X <date>, I'm visiting X   -> travels_to (+ when)
  education   I studied/study X (at S), I majored in X, I have a degree in X -> field_of_study, studied_at /
              studies_at; I graduated from S; I'm a student at S        -> studies_at
  habits      I <do something> every morning / on Sundays / daily / at 6am -> habit
  things      I have/own/bought a X                                      -> owns
  plans       I'm planning to X, I'm going to X, I have a <appointment…> <date> -> plans (+ when)
  health      I'm vegetarian, I'm allergic to X, I have diabetes, I eat X, I don't eat X, I avoid X
                                                                         -> diet, allergic_to, has_condition, eats,
                                                                            avoids

One module per family (`people`, `identity`, `work`, `places`, `plans`, `education`, `possessions`, `health`,
`habits`), each a class of rules over `base.ClauseRules`; `PersonalRules` combines them and dispatches each clause.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from memory_runtime.extraction.lexicon import PET_NOUNS, RELATION_NOUNS, singular
from memory_runtime.extraction.personal.base import (
    _PROGRESSIVE,
    _TRAVEL_VERBS,
    DEGREE_WORDS,
    HAVE_VERBS,
    TRIP_NOUNS,
    Speaker,
    _has_future_only_modal,
)
from memory_runtime.extraction.personal.habits import HabitRules
from memory_runtime.extraction.personal.health import HealthRules
from memory_runtime.extraction.personal.identity import IdentityRules
from memory_runtime.extraction.personal.people import PeopleRules
from memory_runtime.extraction.personal.plans import PlanRules
from memory_runtime.extraction.rules import (
    _aux,
    _has_negation,
    _prep_objects,
    _subject,
    implied_self,
    lasting,
    polarity,
)

if TYPE_CHECKING:
    from spacy.tokens import Token

__all__ = ["PersonalRules"]


def _xcomp(verb: "Token", words: Iterable[str]) -> "Token | None":
    """The open complement of `verb` if it is one of `words` ("try to avoid caffeine" -> avoid)."""
    return next((c for c in verb.children if c.dep_ == "xcomp" and c.lower_ in words), None)


class PersonalRules(PeopleRules, IdentityRules, PlanRules, HealthRules, HabitRules):
    """The rules of the package docstring, run clause by clause on one Doc through a rules._Builder."""

    def __call__(self, tok: "Token") -> None:
        """Apply every rule that starts at `tok`."""
        low = tok.lower_
        if (
            low in RELATION_NOUNS
            or low in PET_NOUNS
            or (singular(low) in PET_NOUNS and self.b.d.ent_at.get(tok.i) is None)
        ):
            self.relation_noun(tok)
        elif low in ("company", "employer", "firm") and tok.dep_ == "nsubj":
            self.my_company(tok)
        elif low == "home" and tok.dep_ == "nsubj":
            self.home_is(tok)
        elif low in DEGREE_WORDS or (low == "major" and tok.dep_ == "nsubj"):
            self.degree(tok)
        elif any(c.dep_ == "amod" and c.lower_ == "new" for c in tok.children):
            self.new_thing(tok)
        if tok.dep_ not in ("ROOT", "conj"):
            return
        subj = _subject(tok)
        if subj is None and not (self.b.first_person and implied_self(tok)):
            return
        who = self.speaker(subj) if subj is not None else self.me()
        if who is None:
            return
        pol = polarity(tok)
        if pol is None:
            if _has_future_only_modal(tok) and not _has_negation(tok):
                self.future(tok, who)
            elif low in ("eat", "drink") and _has_negation(tok):  # "I can't eat nuts"
                self.food(tok, who, avoid_only=True)
            return
        self.b.negating = not pol
        try:
            self.clause(tok, low, who)
        finally:
            self.b.negating = False

    def clause(self, tok: "Token", low: str, who: Speaker) -> None:
        """One asserted or denied clause with its subject resolved."""
        aux = _aux(tok)
        copula = low in ("'m", "m", "am", "is", "'s", "are", "'re", "was") or (low == "been" and lasting(tok))
        if copula and tok.dep_ in ("ROOT", "conj"):
            self.copula(tok, who)
        elif low in ("suffer", "suffers") and not aux - {"do", "does"}:
            self.condition(_prep_objects(tok, ("from",)), who)
        elif low == "diagnosed" and not self.b.negating:
            self.condition(_prep_objects(tok, ("with",)), who)
        elif low in ("try", "tries", "trying") and (xcomp := _xcomp(tok, ("avoid", "eat", "drink"))) is not None:
            self.food(xcomp, who)
        elif low in ("turned", "turn", "turning"):
            self.age_turned(tok, who)
        elif low in ("started", "start", "starting", "joined", "join", "joining", "got", "landed", "hired"):
            self.job_start(tok, who)
        elif low in ("left", "quit", "resigned", "leaving", "quitting"):
            self.job_end(tok, who)
        elif low in ("grew", "born", "raised", "brought"):
            self.origin(tok, who)
        elif low in ("went", "go", "goes") and self.school_year(tok, who):
            return
        elif low in ("studied", "study", "studying", "studies", "majored", "majoring", "graduated"):
            self.education(tok, who)
        elif low in ("planning", "plan", "plans", "intend", "intending"):
            self.plan(tok, who)
        elif (low in _TRAVEL_VERBS or low in ("visiting", "visit")) and (
            self.travel(tok, who) or (low == "going" and self.going_to(tok, who))
        ):
            return
        elif low in ("eat", "drink", "eats", "drinks", "avoid", "avoids", "stopped"):
            if not self.habit(tok, who):
                self.food(tok, who)
        elif low in HAVE_VERBS:
            if not self.habit(tok, who):
                self.have(tok, who)
        elif low in ("booked", "book") and not self.b.negating:
            for obj in (c for c in tok.children if c.dep_ == "dobj" and c.lower_ in TRIP_NOUNS):
                self.trip(tok, obj, who)
        elif low in ("gave", "give", "giving") and any(c.dep_ == "prt" and c.lower_ == "up" for c in tok.children):
            self.food(tok, who, gave_up=True)  # "I gave up sugar"
        elif low == "moving" and _aux(tok) & _PROGRESSIVE and not self.b.negating:
            self.moving(tok, who)
        elif low in ("sold", "rid") and not self.b.negating:
            self.disowned(tok, who)
        else:
            self.habit(tok, who)
