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
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memory_runtime.extraction.dates import resolve_date
from memory_runtime.extraction.lexicon import PET_NOUNS, RELATION_NOUNS, singular
from memory_runtime.extraction.rules import (
    _ADVERBS,
    _DETERMINERS,
    _LOC_LABELS,
    CONF_FIRST_PERSON,
    _attr,
    _aux,
    _Builder,
    _has_negation,
    _named,
    _prep_objects,
    _span_text,
    _subject,
    age_modifier,
    implied_self,
    lasting,
    polarity,
    speaks_for_self,
)
from memory_runtime.extraction.types import USER_SUBJECT, EntityMention

if TYPE_CHECKING:
    from datetime import datetime

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
DIETS = frozenset("vegetarian vegan pescatarian keto kosher halal paleo gluten-free dairy-free".split())
CONDITION_WORDS = {
    "diabetic": "diabetes",
    "asthmatic": "asthma",
    "celiac": "celiac disease",
    "coeliac": "celiac disease",
    "epileptic": "epilepsy",
}
CONDITIONS = frozenset(
    """diabetes asthma arthritis migraines migraine epilepsy hypertension anxiety depression insomnia eczema adhd
    celiac psoriasis""".split()
)
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
FOND_WORDS = {  # "I'm addicted to X": the word and the prepositions that take what the speaker likes
    "addicted": ("to",),
    "obsessed": ("with",),
    "passionate": ("about",),
    "crazy": ("about",),
    "mad": ("about",),
    "keen": ("on",),
}
_PRONOUNS_LIKED = frozenset("it that this them you him her everything something anything".split())
HABIT_ADVERBS = frozenset("usually always normally generally typically regularly often".split())
_TIME_NOUNS = frozenset(
    "morning mornings evening evenings night nights afternoon afternoons day days week weekend weekends".split()
)
FREQUENCY_ADVERBS = frozenset("usually always often normally generally sometimes typically regularly also".split())
_SCHEDULE_ADVERBS = frozenset("daily weekly nightly monthly everyday".split())
_DAY_PLURALS = re.compile(r"^(mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|sundays|weekends|weekdays)$")
_SCHOOL_WORDS = frozenset("university college school institute academy polytechnic uni grad".split())
DEGREE_WORDS = frozenset(
    "degree degrees bachelor bachelors master masters phd doctorate mba undergrad diploma bsc msc ba ma".split()
)
_DEGREE_VERBS = frozenset(
    """have has 've got get getting did do doing done finished finishing completed completing earned hold
    pursuing working studying""".split()
)
_DEGREE_UNDERWAY = frozenset("doing getting pursuing working studying finishing completing".split())
_TRAVEL_VERBS = frozenset(
    "travelling traveling flying going heading driving travel fly go head drive off taking sailing".split()
)
HAVE_VERBS = frozenset("have has 've got own owns bought adopted drive drives".split())
TRIP_NOUNS = frozenset("trip flight flights vacation holiday ticket tickets train ferry cruise".split())
_PROGRESSIVE = frozenset({"'m", "am", "m", "is", "'s", "are", "'re"})
_FUTURE_MODALS = frozenset({"will", "'ll", "ll", "shall"})
_THIRD_PERSON_VERB = {"have": "has", "go": "goes", "do": "does", "be": "is"}


@dataclass(frozen=True)
class Speaker:
    """Who a clause is about: the subject written into the fact, how claims name it, and its entity."""

    subject: str
    claim: str
    mention: EntityMention | None
    confidence: float


def _third_person(verb: str) -> str:
    """'go' -> 'goes', 'play' -> 'plays', 'study' -> 'studies' (for claims about someone)."""
    if verb in _THIRD_PERSON_VERB:
        return _THIRD_PERSON_VERB[verb]
    if verb.endswith(("s", "sh", "ch", "x", "o")):
        return verb + "es"
    if verb.endswith("y") and len(verb) > 1 and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


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


def _xcomp(verb: "Token", words: Iterable[str]) -> "Token | None":
    """The open complement of `verb` if it is one of `words` ("try to avoid caffeine" -> avoid)."""
    return next((c for c in verb.children if c.dep_ == "xcomp" and c.lower_ in words), None)


def _has_future_only_modal(verb: "Token") -> bool:
    modals = {c.lower_ for c in verb.children if c.dep_ == "aux" and c.lower_ not in ("do", "does", "did", "to")}
    modals -= {"am", "'m", "m", "is", "'s", "are", "'re", "be", "been", "have", "'ve", "has"}
    return bool(modals) and modals <= _FUTURE_MODALS


class PersonalRules:
    """The rules of the module docstring, run clause by clause on one Doc through a rules._Builder."""

    def __init__(self, builder: _Builder, said_at: "datetime | None") -> None:
        self.b = builder
        self.said_at = said_at

    # ---- who and when ------------------------------------------------------------------------------
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

    # ---- dispatch ----------------------------------------------------------------------------------
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

    # ---- people ------------------------------------------------------------------------------------
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

    def _denied(self, denied: bool, who: Speaker, *args: Any, **kwargs: Any) -> None:
        """A fact, negated when `denied` (for rules that run outside a clause's polarity)."""
        before = self.b.negating
        self.b.negating = before or denied
        try:
            self._fact(who, *args, **kwargs)
        finally:
            self.b.negating = before

    # ---- identity and work ---------------------------------------------------------------------------
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

    def condition(self, pobjs: list["Token"], who: Speaker) -> None:
        """'I suffer from migraines', 'I was diagnosed with type 2 diabetes'."""
        for pobj in pobjs:
            for item in _conjuncts(pobj):
                cond = _span_text([t for t in item.subtree if t.dep_ != "det" and not t.is_punct]).lower()
                if cond and len(cond.split()) <= 4:
                    self._fact(who, "has_condition", cond, f"{who.claim} has {cond}")

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

    # ---- places --------------------------------------------------------------------------------------
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

    # ---- education -----------------------------------------------------------------------------------
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

    # ---- plans ---------------------------------------------------------------------------------------
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

    # ---- things and health ---------------------------------------------------------------------------
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

    def food(self, verb: "Token", who: Speaker, avoid_only: bool = False, gave_up: bool = False) -> None:
        """'I eat fish' (eats), "I don't eat meat anymore" (not eats + avoids), 'I avoid sugar' (avoids), 'I eat
        lots of vegetables', 'I gave up sugar' (not eats + avoids)."""
        low = verb.lower_
        objs = [i for c in verb.children if c.dep_ in ("dobj", "xcomp") for i in _conjuncts(c)]
        objs = [q for o in objs for q in (_prep_objects(o, ("of",)) if o.lower_ in ("lot", "lots", "plenty") else [o])]
        if low == "stopped" or gave_up:  # "I stopped eating meat", "I gave up meat"
            inner = [o for o in objs if o.lower_ in ("eating", "drinking")]
            objs = [i for o in inner for c in o.children if c.dep_ == "dobj" for i in _conjuncts(c)] or (
                objs if gave_up else []
            )
            avoid_only = False
            if self.b.negating or not objs:
                return
            self.b.negating = True
        for obj in objs:
            if obj.lower_ in ("it", "that", "this", "them", "anything", "something", "much", "lot"):
                continue
            food = _noun_phrase(obj).lower()
            denied = self.b.negating
            if low in ("avoid", "avoids"):
                self._fact(who, "avoids", food, f"{who.claim} avoids {food}")
                continue
            if not avoid_only:
                self._fact(who, "eats", food, f"{who.claim} {'drinks' if 'drink' in low else 'eats'} {food}")
            if denied or avoid_only:
                self.b.negating = False
                try:
                    self._fact(who, "avoids", food, f"{who.claim} avoids {food}")
                finally:
                    self.b.negating = denied
        if low == "stopped" or gave_up:
            self.b.negating = False

    # ---- habits --------------------------------------------------------------------------------------
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


def ids_equal(a: str, b: str) -> bool:
    """Whether two names are the same once normalised."""
    from memory_runtime.domain.ids import normalize_name

    return normalize_name(a) == normalize_name(b)
