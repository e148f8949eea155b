"""Dependency-parse rules: facts and relations from one parsed spaCy Doc (no tagger needed).

The rules are precise rather than greedy. A clause yields a fact only when it is asserted: a main clause
(the sentence root, or a verb conjoined to it), not a question, not negated ("don't", "never", "no
longer"), not hedged by a modal ("might", "would", "will"), and in the present tense (plus "moved to").
Subordinate clauses ("I think I might move to Tokyo", "if I lived in Paris", "whether I work at X") and
`used to` never produce facts. Verb forms are matched on their surface text, which is why the pipeline can
run without the tagger, attribute ruler and lemmatizer.

First-person rules (only for the user's own turns; subject `user`):
  my name is X / my name's X / I'm <PERSON> / call me <PERSON>     -> name_is  (functional)
  I live in X / I'm living in X / I moved to X / I'm based in X     -> lives_in (functional)
  I work at|for X / I'm working at X / I'm a <role> at X            -> works_for (functional)
  my favorite X is Y / Y is my favorite X                           -> favorite_<x> (functional)
  I like|love|enjoy|adore|prefer X / I'm a (big) fan of X           -> likes (multi-valued)
  I hate|dislike|detest|loathe X / I can't stand X                  -> dislikes (multi-valued)
  I am a|an <role> / I work as a <role>                             -> is_a (multi-valued)
  I use X / I'm using X                                             -> uses (multi-valued)
Third-person rules (any role; the subject must be a named entity):
  <PERSON> works at|for <ORG>, <PERSON> is the <role> of|at <ORG>   -> works_for + WORKS_FOR
  <PERSON> lives in|moved to <LOC>                                  -> lives_in + LIVES_IN
  <ORG> is based|located|headquartered in <LOC>                     -> located_in + LOCATED_IN
  <NAMED> is a|an <kind>                                            -> is_a + INSTANCE_OF (kind: Concept)
"""

import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from memory_runtime.domain import ids
from memory_runtime.domain.vocabulary import RELATION_TYPES, fact_predicate
from memory_runtime.extraction.lexicon import PET_NOUNS, RELATION_NOUNS
from memory_runtime.extraction.types import (
    USER_SUBJECT,
    EntityMention,
    ExtractedFact,
    ExtractedRelation,
    Extraction,
)

if TYPE_CHECKING:  # spaCy is imported by the extractor that parses; the rules only read its Docs
    from spacy.tokens import Doc, Span, Token

# spaCy NER label -> entity type. Labels not listed (DATE, TIME, CARDINAL, ORDINAL, MONEY, PERCENT,
# QUANTITY) are values, not entities, and are skipped.
LABEL_TYPES: dict[str, str] = {
    "PERSON": "Person",
    "ORG": "Organization",
    "GPE": "Location",
    "LOC": "Location",
    "FAC": "Location",
    "PRODUCT": "Product",
    "EVENT": "Event",
    "WORK_OF_ART": "Concept",
    "LAW": "Concept",
    "LANGUAGE": "Concept",
    "NORP": "Concept",
}

CONF_FIRST_PERSON = 0.8  # the user said it about themselves
CONF_THIRD_PERSON = 0.7  # the user said it about someone else
CONF_ASSISTANT = 0.6  # the assistant said it (it may be repeating a guess)

MAX_NAME_CHARS = 80
MAX_OBJECT_TOKENS = 8

_NEG = frozenset("not n't never no nt neither nor hardly barely nobody".split())
_MODALS = frozenset("might may could would should will 'll ll shall can ca must 'd d wo gonna wanna ought".split())
_QUESTION_OPENERS = frozenset(
    """do does did can could would will should shall is are am was were have has had may might who what
    where when why how which whose""".split()
)
_PRONOUNS = frozenset(
    """it that this them you him her those these everything something anything nothing me us what which
    one ones yours mine lot all both either some any stuff things thing myself yourself so too very
    much""".split()
)
_DETERMINERS = frozenset("a an the some my our all any this that these those".split())
_VAGUE_ROLES = frozenset(
    """bit lot little kind sort type couple number part fan bunch while member person guy one thing way fact
    problem question idea""".split()
)
_ADVERBS = frozenset(
    """really so very much too also just actually totally absolutely still always definitely kinda sometimes
    usually generally now currently here there more most better best anymore again though even well
    only""".split()
)
_EVALUATIVE = frozenset(
    """great good nice bad beautiful amazing awesome wonderful cool terrible lovely fantastic best worst huge
    big little real total perfect horrible excellent fine decent poor""".split()
)
_TIME_WORDS = frozenset(
    """weekends weekend mornings morning evenings evening nights night weekdays holidays summer winter spring
    autumn fall sundays saturdays days weeknights lunch breakfast dinner""".split()
)
_GREETINGS = frozenset("hi hello hey hiya howdy greetings".split())
_NOT_ROLES = frozenset("vegetarian vegan pescatarian diabetic celiac coeliac asthmatic fan".split())
_STUDENT_ROLES = frozenset("student undergrad undergraduate pupil".split())
_COPULA_PRESENT_1 = frozenset({"am", "'m", "m"})
_COPULA_PRESENT_3 = frozenset({"is", "'s", "s"})
_PROGRESSIVE_AUX = frozenset({"am", "'m", "m", "is", "'s", "are", "'re", "been"})
_PERFECT_AUX = frozenset({"have", "'ve", "ve", "has", "'s"})
_SENT_END = re.compile(r"[?]\W*$")

_LIKE_VERBS = {"like": "likes", "love": "likes", "enjoy": "likes", "adore": "likes", "prefer": "likes"}
_DISLIKE_VERBS = {"hate": "dislikes", "dislike": "dislikes", "detest": "dislikes", "loathe": "dislikes"}
_USE_VERBS = {"use": "uses", "using": "uses"}
_PREFER_CUT = frozenset({"over", "than", "instead", "rather"})
_NAMED_LABELS = frozenset(LABEL_TYPES)
_LOC_LABELS = frozenset({"GPE", "LOC", "FAC"})
_PLACE_LABELS = _LOC_LABELS | {"ORG", "NORP"}  # after "I live in", the small model's ORG is a borough or town
_ORG_LIKE_LABELS = frozenset({"ORG", "PRODUCT", "FAC", "NORP", "WORK_OF_ART", "GPE", "EVENT"})


# ---- small helpers -------------------------------------------------------------------------------------
def clean_name(text: str) -> str:
    """An entity name without surrounding space, quotes, possessive 's or a sentence-final period."""
    name = " ".join(text.split()).strip(" \"'`“”‘’,;:!?()[]")
    if name.endswith(("'s", "’s")):
        name = name[:-2].rstrip()
    if name.endswith(".") and not re.search(r"(^|\s)\w\.$", name):  # keep initials such as "J."
        name = name[:-1].rstrip()
    return name


def _valid_name(name: str) -> bool:
    return 0 < len(name) <= MAX_NAME_CHARS and any(ch.isalpha() for ch in name)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _snake(words: Iterable[str]) -> str:
    return re.sub(r"[^a-z0-9]+", "_", " ".join(words).lower()).strip("_")[:40]


def _span_text(tokens: list["Token"]) -> str:
    if not tokens:
        return ""
    return "".join(t.text_with_ws for t in tokens[:-1]) + tokens[-1].text


class _Doc:
    """One parsed Doc with the entity lookups the rules need."""

    def __init__(self, doc: "Doc") -> None:
        self.doc = doc
        self.ent_at: dict[int, Span] = {}
        for ent in doc.ents:
            if ent.label_ in _NAMED_LABELS:
                for i in range(ent.start, ent.end):
                    self.ent_at[i] = ent

    def entity(self, tok: "Token", labels: frozenset[str] = _NAMED_LABELS) -> "Span | None":
        """The named-entity span containing `tok` with one of `labels`, or None."""
        ent = self.ent_at.get(tok.i)
        return ent if ent is not None and ent.label_ in labels else None

    def person_name(self, tok: "Token") -> str | None:
        """The name at `tok` where the context says it is a person ("my friend Jake", "Tomasz is my boss"),
        whatever label the small model gave it: an entity span, a capitalised phrase, or a capitalised word
        at the start of the sentence that is not a stop word."""
        ent = self.ent_at.get(tok.i)
        if ent is not None:
            return clean_name(ent.text)
        phrase = self.proper_phrase(tok)
        if phrase is None and _name_like(tok):
            phrase = tok.text
        return clean_name(phrase) if phrase else None

    def proper_phrase(self, tok: "Token") -> str | None:
        """`tok` with its compound modifiers if every word is capitalised (a name the NER missed)."""
        words = [c for c in tok.children if c.dep_ == "compound" and c.i < tok.i] + [tok]
        words.sort(key=lambda t: t.i)
        if words[0].i == words[0].sent.start:  # sentence-initial capitals say nothing
            return None
        if all((w.is_title or (w.is_upper and len(w) > 1)) and w.is_alpha for w in words):
            return _span_text(words)
        return None


def _name_like(tok: "Token") -> bool:
    """A capitalised word that is not a stop word or pronoun (a name the small model missed)."""
    return tok.is_title and tok.is_alpha and not tok.is_stop and tok.lower_ not in _PRONOUNS


def _names_a_group(sent: "Span") -> bool:
    """Whether a sentence names people together (two capitalised names joined by and/or, or a plural
    relation word), so that a later "she"/"he" cannot be resolved safely."""
    for t in sent:
        if t.dep_ == "conj" and t.is_title and t.head.is_title:
            return True
        if t.lower_ in ("friends", "parents", "sisters", "brothers", "colleagues", "kids", "cousins", "coworkers"):
            return True
    return False


def _mention(name: str, type_: str, label: str) -> EntityMention | None:
    name = clean_name(name)
    return EntityMention(name, type_, label) if _valid_name(name) else None


def ner_mentions(doc: "Doc") -> list[EntityMention]:
    """Entities of a Doc, typed through LABEL_TYPES (value labels such as DATE are skipped)."""
    out: dict[tuple[str, str], EntityMention] = {}
    for ent in doc.ents:
        type_ = LABEL_TYPES.get(ent.label_)
        if type_ is None:
            continue
        m = _mention(ent.text, type_, ent.label_)
        if m is not None:
            out.setdefault(m.key, m)
    return list(out.values())


# ---- clause gates --------------------------------------------------------------------------------------
def _is_question(sent: "Span") -> bool:
    if _SENT_END.search(sent.text):
        return True
    first = next((t for t in sent if not (t.is_punct or t.is_space)), None)
    return first is not None and first.lower_ in _QUESTION_OPENERS


def _subject(verb: "Token") -> "Token | None":
    for c in verb.children:
        if c.dep_ in ("nsubj", "nsubjpass"):
            return c
    return _subject(verb.head) if verb.dep_ == "conj" and verb.head is not verb else None


_IMPLIED_SELF_VERBS = frozenset("born grew got bought moved relocated started joined left quit sold raised".split())


def speaks_for_self(subj: "Token") -> bool:
    """Whether a clause subject includes the speaker: "I", "we", "my wife and I", "me and my sister"."""
    if subj.lower_ in ("i", "we"):
        return True
    conj = [c.lower_ for c in subj.children if c.dep_ == "conj"]
    return "i" in conj or "me" in conj or (subj.lower_ == "me" and bool(conj))


def implied_self(verb: "Token") -> bool:
    """A chat-style clause with the "I" left out: "Just moved to Seattle!", "Born and raised in Texas"."""
    while verb.dep_ == "conj" and _subject(verb) is None:
        verb = verb.head  # "Born and raised in Texas"
    if verb.dep_ != "ROOT" or _subject(verb) is not None:
        return False
    low = verb.lower_
    if low not in _IMPLIED_SELF_VERBS and not (low.endswith("ed") and len(low) > 4):
        return False
    before = verb.doc[verb.sent.start : verb.i]
    return all(t.dep_ in ("advmod", "intj", "punct") for t in before) and not _is_question(verb.sent)


def self_subject(verb: "Token") -> bool:
    """Whether the speaker is the subject of `verb`: a subject that includes them, or an implied "I"."""
    subj = _subject(verb)
    return speaks_for_self(subj) if subj is not None else implied_self(verb)


def _own_subject(verb: "Token") -> bool:
    return any(c.dep_ in ("nsubj", "nsubjpass") for c in verb.children)


def _has_negation(tok: "Token") -> bool:
    for c in tok.children:
        if c.dep_ == "neg" or c.lower_ in _NEG:
            return True
        if c.dep_ == "advmod" and c.lower_ in ("longer", "anymore") and any(g.lower_ in _NEG for g in c.children):
            return True
    return False


def _has_modal(tok: "Token") -> bool:
    return any(c.dep_ == "aux" and c.lower_ in _MODALS for c in tok.children)


def polarity(verb: "Token") -> bool | None:
    """True for an asserted main clause, False for a denied one ("I don't live in Paris anymore"), None for
    anything else (hedged by a modal, subordinate). Conjoined verbs inherit their head's polarity."""
    tok = verb
    negated = False
    while True:
        if _has_modal(tok):
            return None
        negated = negated or _has_negation(tok)
        if tok.dep_ == "ROOT":
            return not negated
        if tok.dep_ != "conj":
            return None
        inherit = not _own_subject(tok)
        tok = tok.head
        if not inherit:  # "I live in Paris and I work at X": only the clause structure matters above
            return (not negated) if _main_clause(tok) else None


def _asserted(verb: "Token") -> bool:
    """Main clause, not negated, not hedged (see `polarity`)."""
    return polarity(verb) is True


def _main_clause(tok: "Token") -> bool:
    while tok.dep_ == "conj":
        tok = tok.head
    return tok.dep_ == "ROOT"


def _aux(verb: "Token") -> set[str]:
    return {c.lower_ for c in verb.children if c.dep_ in ("aux", "auxpass")}


def _present(verb: "Token", base: frozenset[str] | set[str], ing: str | None = None) -> bool:
    """`verb` is a present form: the base form, or `<verb>ing` with am/is/are/been."""
    if verb.lower_ in base:
        return not (_aux(verb) - {"do", "does"})
    return ing is not None and verb.lower_ == ing and bool(_aux(verb) & _PROGRESSIVE_AUX)


def _prep_objects(head: "Token", preps: Iterable[str]) -> list["Token"]:
    wanted = set(preps)
    return [
        gc
        for c in head.children
        if c.dep_ in ("prep", "agent") and c.lower_ in wanted
        for gc in c.children
        if gc.dep_ == "pobj"
    ]


def _place_objects(verb: "Token", preps: Iterable[str]) -> list["Token"]:
    """The objects of `preps`, looking through 'based out of X', 'moved into a flat in X', 'a town near X'."""
    out = []
    for pobj in _prep_objects(verb, preps):
        out.append(pobj)
        out += _prep_objects(pobj, ("in",))
    for prep in (c for c in verb.children if c.dep_ == "prep" and c.lower_ == "out"):
        out += _prep_objects(prep, ("of",))
    return out


def _no_longer(verb: "Token") -> bool:
    """Whether a denial is a change ("anymore", "no longer"), not a plain no."""
    return any(t.lower_ in ("anymore", "longer") for t in verb.subtree)


def lasting(verb: "Token") -> bool:
    """A present perfect that still holds: "I've been a nurse since 2010", "I've lived here for years"."""
    attr = _attr(verb)
    spans = _prep_objects(verb, ("for", "since")) + (_prep_objects(attr, ("for", "since")) if attr is not None else [])
    return bool(_aux(verb) & _PERFECT_AUX) and bool(spans)


def _attr(verb: "Token") -> "Token | None":
    return next((c for c in verb.children if c.dep_ in ("attr", "acomp", "oprd")), None)


# ---- phrases -------------------------------------------------------------------------------------------
def _named(d: _Doc, tok: "Token", labels: frozenset[str] = _NAMED_LABELS) -> tuple[str, str | None] | None:
    """(name, NER label or None) of the named thing at `tok`: an entity span, or a capitalised phrase."""
    ent = d.entity(tok, labels)
    if ent is not None:
        return clean_name(ent.text), ent.label_
    if d.ent_at.get(tok.i) is not None:  # an entity with a label we were told not to accept
        return None
    phrase = d.proper_phrase(tok)
    if phrase:
        return clean_name(phrase), None
    called = _called(tok)  # "a small startup called Brightloop"
    return _named(d, called, labels | {"PERSON", "ORG"}) if called is not None else None


def _called(tok: "Token") -> "Token | None":
    """The name a common noun is given: 'a firm called Brookfield', 'a dog named Rex'."""
    for c in tok.children:
        if c.dep_ == "acl" and c.lower_ in ("named", "called"):
            return next((g for g in c.children if g.dep_ in ("oprd", "xcomp", "attr", "dobj", "npadvmod")), None)
    return None


def age_modifier(tok: "Token") -> str | None:
    """The age in '25-year-old' (the amod 'old' with its 'year' and number), else None."""
    if tok.lower_ != "old" or tok.dep_ != "amod":
        return None
    num = next((t for t in tok.subtree if t.like_num and t.text.isdigit()), None)
    years = any(t.lower_ in ("year", "years") for t in tok.subtree)
    return num.text if num is not None and years and 0 < int(num.text) < 120 else None


def _role_phrase(noun: "Token") -> str | None:
    """'a senior data scientist at X' -> 'senior data scientist' (modifiers left of the noun)."""
    words = [
        c
        for c in noun.children
        if c.dep_ in ("compound", "amod", "nmod") and c.i < noun.i and not age_modifier(c)  # "a 25-year-old nurse"
    ] + [noun]
    words.sort(key=lambda t: t.i)
    # keep only the contiguous run ending at the noun
    run = [noun]
    for w in reversed(words[:-1]):
        hyphenated = list(w.subtree)
        if w.i == run[0].i - 1:
            run.insert(0, w)
        elif hyphenated[-1].i == run[0].i - 1 and all(t.is_alpha or t.text == "-" for t in hyphenated):
            return _span_text(hyphenated + run) if len(hyphenated) <= 5 else None  # "a stay-at-home dad"
    if noun.lower_ in _VAGUE_ROLES or not all(w.is_alpha for w in run) or len(run) > 4:
        return None
    if any(w.lower_ in _EVALUATIVE for w in run) or any(c.dep_ in ("relcl", "acl") for c in noun.children):
        return None  # an opinion ("a great place to live"), not a kind
    return _span_text(run)


def _object_items(verb: "Token", cut_preps: frozenset[str] = frozenset()) -> list[tuple[str, list["Token"]]]:
    """The things a like/hate/use verb takes, split on commas and coordinators: [(text, tokens)]."""
    objs = []
    for c in verb.children:
        if c.i <= verb.i:
            continue
        if c.dep_ == "dobj" or (
            c.dep_ == "xcomp" and (c.lower_.endswith("ing") or any(a.lower_ == "to" for a in c.children))
        ):
            objs.append(c)
        elif c.dep_ in ("advmod", "acomp", "npadvmod", "attr") and c.lower_ not in _ADVERBS:
            # the small model often parses a bare noun object ("I hate cilantro") as an adverb
            between = verb.doc[verb.i + 1 : c.i]
            if not c.lower_.endswith("ly") and all(t.lower_ in _ADVERBS for t in between) and c.is_alpha:
                objs.append(c)
    if not objs:
        return []
    start = min(o.left_edge.i for o in objs)
    end = max(o.right_edge.i for o in objs) + 1
    tokens = list(verb.doc[start:end])
    for i, t in enumerate(tokens):  # "tea over coffee" -> "tea"; stop at a sentence-internal break
        when = t.dep_ == "prep" and any(c.dep_ == "pobj" and c.lower_ in _TIME_WORDS for c in t.children)
        if when or (t.dep_ == "prep" and t.lower_ in cut_preps) or t.lower_ in (";", ":", "—", "-", "(", "because"):
            tokens = tokens[:i]  # "skiing on weekends" -> "skiing"
            break
    items: list[list[Token]] = [[]]
    for t in tokens:
        if t.lower_ in (",", "and", "or", "&", "/") and t.dep_ in ("cc", "punct"):
            items.append([])
        else:
            items[-1].append(t)
    out = []
    for item in items:
        while item and (item[0].lower_ in _DETERMINERS or item[0].lower_ in _ADVERBS or item[0].is_punct):
            item = item[1:]
        while item and (item[-1].is_punct or item[-1].lower_ in ("anymore", "again", "now", "too", "lately")):
            item = item[:-1]
        if not item or len(item) > MAX_OBJECT_TOKENS:
            continue
        words = {t.lower_ for t in item}
        if item[-1].lower_ in _PRONOUNS or (len(item) == 1 and item[0].lower_ in _PRONOUNS):
            continue
        if words & {"you", "your", "yours", "u", "ur", "it"}:
            continue
        out.append((_span_text(item), item))
    return out


# ---- the extractor -------------------------------------------------------------------------------------
class _Builder:
    """Collects mentions, facts and relations of one Doc."""

    def __init__(self, doc: "Doc", first_person: bool, role: str, antecedents: Sequence[str] = ()) -> None:
        self.d = _Doc(doc)
        self.first_person = first_person
        self.third_conf = CONF_THIRD_PERSON if role == "user" else CONF_ASSISTANT
        self.out = Extraction(doc.text)
        self.negating = False  # set while a rule runs on a denied clause: its facts are negations
        # persons "she"/"he" may refer to: the one person of the speaker's previous turn, then of this text
        self.antecedents: list[str] = list(antecedents)
        for m in ner_mentions(doc):
            self.out.add_entity(m)

    # entity bookkeeping: a rule's type beats the small model's label for the same name in this text
    def entity(self, name: str, type_: str, label: str) -> EntityMention | None:
        m = _mention(name, type_, label)
        if m is None:
            return None
        if label == "rule":
            norm = m.key[1]
            self.out.entities = [e for e in self.out.entities if not (e.key[1] == norm and e.label != "rule")]
        return self.out.add_entity(m)

    def ner_in(self, tokens: list["Token"]) -> tuple[EntityMention, ...]:
        found = []
        for t in tokens:
            ent = self.d.entity(t)
            if ent is not None and LABEL_TYPES.get(ent.label_):
                m = _mention(ent.text, LABEL_TYPES[ent.label_], ent.label_)
                if m is not None and m.key in {e.key for e in self.out.entities} and m not in found:
                    found.append(m)
        return tuple(found)

    def fact(
        self,
        subject: str,
        predicate: str,
        obj: str,
        claim: str,
        conf: float,
        entities: Iterable[EntityMention | None] = (),
        *,
        when: str | None = None,
        relation: bool = False,
    ) -> None:
        """Record a fact (a negation while `negating`); `relation` types the subject-object edge."""
        if fact_predicate(predicate) is None:
            raise ValueError(f"rule emitted predicate {predicate!r} outside the whitelist")
        obj = " ".join(obj.split())
        if not obj or len(obj) > 200:
            return
        if when is not None:
            claim = f"{claim} {'on' if len(when) == 10 else 'in'} {when}"
        f = ExtractedFact(
            subject,
            predicate,
            obj,
            claim,
            conf,
            tuple(e for e in entities if e is not None),
            negated=self.negating,
            when=when,
            rel_type=RELATION_TYPES.get(predicate) if relation and not self.negating else None,
        )
        if f not in self.out.facts:
            self.out.facts.append(f)

    def named_subject(self, subj: "Token") -> tuple[str, str] | None:
        """(name, NER label) of a clause subject that names someone: a named entity, the name in apposition
        ("my manager Tomasz"), a name known from the context, or "she"/"he" when exactly one person is in
        context (cheap, safe coreference)."""
        ent = self.d.entity(subj)
        for c in subj.children:
            if c.dep_ == "appos" and (name := self.d.person_name(c)) is not None:
                return name, "PERSON"
        kin = any(c.dep_ == "compound" and (c.lower_ in RELATION_NOUNS or c.lower_ in PET_NOUNS) for c in subj.children)
        if ent is not None:
            return clean_name(ent.text), "PERSON" if kin else ent.label_
        if kin and (name := self.d.person_name(subj)) is not None:
            return name, "PERSON"  # "my girlfriend Mai is a nurse"
        if subj.lower_ in ("she", "he") and len(set(self.antecedents)) == 1:
            return self.antecedents[0], "PERSON"
        if _name_like(subj) and (subj.text in self.antecedents or subj.i == subj.sent.start):
            return subj.text, "PERSON"  # "Lucas works at X": a sentence-initial name the NER missed
        phrase = self.d.proper_phrase(subj)
        if phrase is not None and subj.lower_ not in _PRONOUNS:
            return clean_name(phrase), "PERSON"
        return None

    def relation(self, source: EntityMention | None, target: EntityMention | None, rel_type: str) -> None:
        if source is None or target is None or source.key == target.key:
            return
        r = ExtractedRelation(source, target, rel_type)
        if r not in self.out.relations:
            self.out.relations.append(r)

    # ---- rules -----------------------------------------------------------------------------------------
    def run(self, hooks: Sequence[Callable[["Token"], None]] = (), self_names: Iterable[str] = ()) -> Extraction:
        """Apply the rules (and each of `hooks`) to every token of every statement, in order; after each
        sentence the persons this text named so far (not `self_names`) become the antecedents of "she"/"he"."""
        own = {ids.normalize_name(n) for n in self_names}
        for sent in self.d.doc.sents:
            if not _is_question(sent):
                for tok in sent:
                    if self.first_person:
                        self._first_person(tok)
                    self._third_person(tok)
                    for hook in hooks:
                        hook(tok)
            own |= {ids.normalize_name(f.object) for f in self.out.facts if f.predicate == "name_is"}
            named = [e.name for e in self.out.entities if e.type == "Person" and e.key[1] not in own]
            if _names_a_group(sent):  # "Karen and Steve", "my friends": "she" would be a guess
                named = [*named, "?group", "?others"]
            if named:  # once this text names someone, only its own persons are candidates
                self.antecedents = named
        return self.out

    def _first_person(self, tok: "Token") -> None:
        low = tok.lower_
        if tok.dep_ == "ROOT" and any(c.dep_ == "advmod" and c.lower_ == "here" for c in tok.children):
            if (ent := self.d.entity(tok, frozenset({"PERSON"}))) is not None or _name_like(tok):
                self._name_is(clean_name(ent.text) if ent is not None else tok.text)  # "Hello, Marguerite here"
            return
        if low in ("name", "favorite", "favourite", "fave", "fav"):
            self._my_noun(tok)
            return
        if tok.dep_ not in ("ROOT", "conj"):
            return
        if low in ("call", "calls") and tok.dep_ == "ROOT" and not _has_negation(tok):
            self._call_me(tok)  # "call me Raj", "friends call me Sunny"
            return
        if not self_subject(tok):
            return
        if self._can_not_stand(tok) and _main_clause(tok):
            self._preference(tok, "dislikes")
            return
        pol = polarity(tok)
        if pol is None:
            return
        self.negating = not pol
        try:
            self._first_person_clause(tok, low)
        finally:
            self.negating = False

    def _first_person_clause(self, tok: "Token", low: str) -> None:
        if low in ("work", "working") and _present(tok, {"work"}, "working"):
            self._works(tok)
        elif low in ("live", "living", "reside", "residing") and _present(tok, {"live", "reside"}, "living"):
            self._lives(tok, ("in",))
        elif low == "lived" and lasting(tok):
            self._lives(tok, ("in",))  # "I've lived in Chicago for years"
        elif low in ("moved", "relocated"):
            self._lives(tok, ("to", "into"))
        elif low == "based" and _aux(tok) & (_COPULA_PRESENT_1 | {"are", "'re"}):
            self._lives(tok, ("in", "out"))
        elif low in _LIKE_VERBS and _present(tok, set(_LIKE_VERBS)):
            if self.negating and not _no_longer(tok):  # "I don't (really) like X": a dislike, not a change
                self.negating = False
                self._preference(tok, "dislikes")
                return
            self._preference(tok, "likes", _PREFER_CUT if low == "prefer" else frozenset())
        elif low in _DISLIKE_VERBS and _present(tok, set(_DISLIKE_VERBS)):
            self._preference(tok, "dislikes")
        elif low in ("use", "using") and _present(tok, {"use"}, "using"):
            self._preference(tok, "uses")
        elif low == "employed" and _aux(tok) & (_COPULA_PRESENT_1 | {"are", "'re"}):
            self._works(tok, ("at", "for", "by", "with"))  # "I'm employed at/by X"
        elif low in ("teach", "teaching") and _present(tok, {"teach"}, "teaching"):
            self._works(tok, ("at",))
        elif low in _COPULA_PRESENT_1 or (low == "been" and lasting(tok)):
            self._i_am(tok)

    def _can_not_stand(self, tok: "Token") -> bool:
        return tok.lower_ == "stand" and _has_negation(tok) and bool(_aux(tok) & {"ca", "can", "could"})

    def _works(self, verb: "Token", preps: tuple[str, ...] = ("at", "for")) -> None:
        roles = [p for p in _prep_objects(verb, ("as",)) if any(c.lower_ in ("a", "an") for c in p.children)]
        for pobj in _prep_objects(verb, preps) + [o for r in roles for o in _prep_objects(r, ("at", "for", "with"))]:
            named = _named(self.d, pobj)
            if named is None:
                continue
            name, label = named
            type_ = "Person" if label == "PERSON" else "Organization"
            if label in _LOC_LABELS - {"GPE"}:
                continue
            org = self.entity(name, type_, "rule")
            prep = "for" if type_ == "Person" else "at"
            self.fact(
                USER_SUBJECT, "works_for", name, f"User works {prep} {name}", CONF_FIRST_PERSON, [org], relation=True
            )
            if type_ == "Organization" and not self.negating:
                self._org_place(verb, name, org)
        for role in roles:
            self._is_a(role)
        for boss in _prep_objects(verb, ("under",)):  # "I work under Margaret Lee"
            if (boss_name := self.d.person_name(boss)) is not None and boss.is_title:
                person = self.entity(boss_name, "Person", "rule")
                claim = f"User's manager is {boss_name}"
                self.fact(USER_SUBJECT, "has_manager", boss_name, claim, CONF_FIRST_PERSON, [person], relation=True)
        homes = [h for h in _prep_objects(verb, ("from",)) if h.lower_ in ("home", "flat", "house", "apartment")]
        self._lives_at([p for h in homes for p in _prep_objects(h, ("in",))])  # "I work from my flat in Hamburg"

    def _org_place(self, verb: "Token", org_name: str, org: EntityMention | None) -> None:
        """'I work at Acme in Berlin': the organisation is located in Berlin."""
        for pobj in _prep_objects(verb, ("in",)):
            named = _named(self.d, pobj, _LOC_LABELS)
            if named is not None:
                place = self.entity(named[0], "Location", "rule")
                claim = f"{org_name} is located in {named[0]}"
                self.fact(org_name, "located_in", named[0], claim, self.third_conf, [org, place])
                self.relation(org, place, "LOCATED_IN")

    def _lives(self, verb: "Token", preps: tuple[str, ...]) -> None:
        self._lives_at(_place_objects(verb, preps))

    def _lives_at(self, pobjs: list["Token"]) -> None:
        for pobj in pobjs:
            named = _named(self.d, pobj, _PLACE_LABELS)
            if named is None:
                continue
            place = self.entity(named[0], "Location", "rule")
            name = named[0]
            self.fact(
                USER_SUBJECT, "lives_in", name, f"User lives in {name}", CONF_FIRST_PERSON, [place], relation=True
            )

    def _preference(self, verb: "Token", predicate: str, cut: frozenset[str] = frozenset()) -> None:
        verb_word = {"likes": "likes", "dislikes": "dislikes", "uses": "uses"}[predicate]
        for text, tokens in _object_items(verb, cut):
            infinitive = tokens[0].lower_ == "to"
            obj = _span_text(tokens[1:]) if infinitive else text
            if not obj:
                continue
            mentions = list(self.ner_in(tokens))
            if predicate == "uses":  # a named thing one uses is a technology, whatever the NER guessed
                named = _named(self.d, tokens[-1])
                if named and named[0] == clean_name(obj):
                    mentions = [m for m in mentions if m.key[1] != ids.normalize_name(obj)]
                    if (technology := self.entity(obj, "Technology", "rule")) is not None:
                        mentions.append(technology)
            claim = f"User {verb_word} {'to ' if infinitive else ''}{obj}"
            self.fact(USER_SUBJECT, predicate, obj, claim, CONF_FIRST_PERSON, mentions)

    def _i_am(self, verb: "Token") -> None:
        attr = _attr(verb)
        if attr is None:
            return
        ent = self.d.entity(attr, frozenset({"PERSON"}))
        if not any(c.dep_ in ("det", "amod", "prep") for c in attr.children):
            # "I'm Priya": a PERSON, or a capitalised name the NER missed that ends the sentence
            # (only right after a greeting, so "I'm Happy" stays an adjective)
            ends = all(t.is_punct for t in attr.doc[attr.i + 1 : attr.sent.end])
            greeted = any(t.lower_ in _GREETINGS for t in attr.doc[max(0, attr.sent.start - 3) : attr.i])
            fallback = self.d.proper_phrase(attr) if ends and greeted else None
            name = clean_name(ent.text) if ent is not None else fallback
            if name and (ent is not None or not self.d.ent_at.get(attr.i)):
                self._name_is(name)
                return
        det = {c.lower_ for c in attr.children if c.dep_ == "det"}
        if attr.lower_ == "fan" and det & {"a", "an", "the"}:
            # "I'm not a (big) fan of X" is a dislike; "... anymore" a change of taste
            predicate = "dislikes" if self.negating and not _no_longer(verb) else "likes"
            was, self.negating = self.negating, self.negating and predicate == "likes"
            for pobj in _prep_objects(attr, ("of",)):
                obj = _span_text([t for t in pobj.subtree if not (t.dep_ == "det" and t.i == pobj.left_edge.i)])
                if obj and pobj.lower_ not in _PRONOUNS:
                    toks = list(pobj.subtree)
                    claim = f"User {predicate} {obj}"
                    self.fact(USER_SUBJECT, predicate, obj, claim, CONF_FIRST_PERSON, self.ner_in(toks))
            self.negating = was
            return
        if attr.lower_ in _NOT_ROLES:  # diets and studies have their own rules (the personal package)
            return
        if det & {"a", "an"} or "the" in det and _prep_objects(attr, ("of", "at", "for")):
            self._is_a(attr)
        if attr.lower_ in _STUDENT_ROLES:
            return
        for pobj in _prep_objects(attr, ("at", "for", "with") if det & {"a", "an"} else ("at", "for", "of")):
            named = _named(self.d, pobj, _ORG_LIKE_LABELS)
            if named is not None:
                org = self.entity(named[0], "Organization", "rule")
                claim = f"User works at {named[0]}"
                self.fact(USER_SUBJECT, "works_for", named[0], claim, CONF_FIRST_PERSON, [org], relation=True)

    def _is_a(self, noun: "Token") -> None:
        role = _role_phrase(noun)
        if role and not self.d.entity(noun):
            self.fact(
                USER_SUBJECT,
                "is_a",
                role.lower() if not noun.is_upper else role,
                f"User is {_article(role)} {role}",
                CONF_FIRST_PERSON,
            )

    def _name_is(self, name: str) -> None:
        if not _valid_name(name) or len(name.split()) > 4:
            return
        person = self.entity(name, "Person", "rule")
        self.fact(USER_SUBJECT, "name_is", name, f"User's name is {name}", CONF_FIRST_PERSON, [person])

    def _call_me(self, verb: "Token") -> None:
        if not any(c.dep_ in ("dobj", "dative") and c.lower_ == "me" for c in verb.children):
            return
        for c in verb.children:
            if c.dep_ in ("oprd", "xcomp", "attr", "npadvmod", "dobj", "ccomp") and c.lower_ != "me":
                person = self.d.entity(c, frozenset({"PERSON"}))
                name = clean_name(person.text) if person is not None else self.d.person_name(c)
                if name and c.is_title:
                    self._name_is(name)

    def _my_noun(self, tok: "Token") -> None:
        """'my name is X', "my name's X", 'my favorite X is Y', 'Y is my favorite X'."""
        noun = tok if tok.lower_ == "name" else tok.head
        if tok.lower_ != "name" and tok.dep_ != "amod":
            return
        owners = [c.lower_ for c in noun.children if c.dep_ == "poss"]
        # "Name's Gregor", "The name's Dominik": nobody else's name
        bare_name = tok.lower_ == "name" and not owners and noun.i - noun.sent.start <= 1
        if "my" not in owners and not bare_name:
            return
        verb = noun.head
        value: Token | None = None
        if noun.dep_ == "nsubj" and verb.lower_ in _COPULA_PRESENT_3 | {"are"}:
            value = _attr(verb) or next((c for c in verb.children if c.dep_ in ("dobj", "appos")), None)
        elif noun.dep_ == "attr" and verb.lower_ in _COPULA_PRESENT_3 | {"are"} and tok.lower_ != "name":
            value = _subject(verb)
        elif noun.lower_ == "name" and noun.dep_ == "poss" and any(c.lower_ in ("'s", "s") for c in noun.children):
            value, verb = noun.head, noun.head  # "My name's Tom": the parser makes Tom the root
        if value is None or value.lower_ in _PRONOUNS or not _asserted(verb):
            return
        ent = self.d.entity(value)
        run = [c for c in value.children if c.dep_ == "compound" and c.is_title] + [value]
        if noun.lower_ == "name" and value.is_title and len(run) > 1:
            ent = None  # "Amelia Rose Carter": the whole name, whatever the small model split off
        tokens = (
            list(ent)
            if ent is not None
            else [t for t in value.subtree if not (t.dep_ == "det" and t.i == value.left_edge.i and t.lower_ != "the")]
        )
        text = clean_name(_span_text(tokens))
        if not text or len(tokens) > MAX_OBJECT_TOKENS:
            return
        if noun.lower_ == "name":
            self._name_is(text)
            return
        kind_words = [c.lower_ for c in noun.children if c.dep_ == "compound"] + [noun.lower_]
        kind = _snake(kind_words)
        if not kind:
            return
        kind_text = " ".join(kind_words)
        self.fact(
            USER_SUBJECT,
            f"favorite_{kind}",
            text,
            f"User's favorite {kind_text} is {text}",
            CONF_FIRST_PERSON,
            self.ner_in(tokens),
        )

    def _third_person(self, tok: "Token") -> None:
        if tok.dep_ not in ("ROOT", "conj"):
            return
        subj = _subject(tok)
        if subj is None or subj.lower_ in ("i", "you", "we", "they", "it"):
            return
        who = self.named_subject(subj)
        pol = polarity(tok)
        if who is None or pol is None:
            return
        self.negating = not pol
        try:
            self._third_person_clause(tok, *who)
        finally:
            self.negating = False

    def _third_person_clause(self, tok: "Token", name: str, label: str) -> None:
        low = tok.lower_
        # only people work at places and live in them: the small model often calls a first name an ORG
        person_verb = low in ("works", "work", "working", "lives", "live", "living", "moved", "relocated")
        if label == "PERSON" or (person_verb and label not in _LOC_LABELS):
            denied = self.negating and _aux(tok) == {"does"}  # "Alice doesn't work at X (anymore)"
            if (
                (low == "works" and not _aux(tok))
                or (low == "working" and _aux(tok) & _PROGRESSIVE_AUX)
                or (low == "work" and denied)
            ):
                labels = _ORG_LIKE_LABELS | {"PERSON"}  # the small model calls many firms persons
                self._their(name, tok, ("at", "for"), labels, "works_for", "Organization", "works at")
            elif (
                (low == "lives" and not _aux(tok))
                or (low == "living" and _aux(tok) & _PROGRESSIVE_AUX)
                or (low == "live" and denied)
            ):
                self._their(name, tok, ("in",), _LOC_LABELS, "lives_in", "Location", "lives in")
            elif low in ("moved", "relocated") and not (_aux(tok) - _PERFECT_AUX):
                self._their(name, tok, ("to",), _LOC_LABELS, "lives_in", "Location", "lives in")
        if (
            low in ("based", "located", "headquartered")
            and label in ("ORG", "FAC")
            and (_aux(tok) & _COPULA_PRESENT_3 | {"are"})
        ):
            self._their(name, tok, ("in",), _LOC_LABELS, "located_in", "Location", "is based in", label)
        if low in _COPULA_PRESENT_3 and tok.dep_ == "ROOT":
            self._their_kind(name, label, tok)

    def _subject_mention(self, name: str, label: str) -> EntityMention | None:
        return self.entity(name, LABEL_TYPES[label], label)

    def _their(
        self,
        name: str,
        verb: "Token",
        preps: tuple[str, ...],
        labels: frozenset[str],
        predicate: str,
        type_: str,
        phrase: str,
        subject_label: str = "PERSON",
    ) -> None:
        for pobj in _prep_objects(verb, preps):
            named = _named(self.d, pobj, labels)
            if named is None:
                continue
            subject = self._subject_mention(name, subject_label)
            target = self.entity(named[0], type_, "rule")
            self.fact(name, predicate, named[0], f"{name} {phrase} {named[0]}", self.third_conf, [subject, target])
            if not self.negating:
                self.relation(subject, target, predicate.upper())

    def _their_kind(self, name: str, label: str, verb: "Token") -> None:
        attr = _attr(verb)
        if attr is None or self.d.entity(attr):
            return
        det = {c.lower_ for c in attr.children if c.dep_ == "det"}
        subject = self._subject_mention(name, label)
        if label == "PERSON" and "the" in det:  # "Elon Musk is the CEO of Tesla"
            for pobj in _prep_objects(attr, ("of", "at")):
                named = _named(self.d, pobj, _ORG_LIKE_LABELS)
                if named is not None:
                    org = self.entity(named[0], "Organization", "rule")
                    self.fact(
                        name,
                        "works_for",
                        named[0],
                        f"{name} works at {named[0]}",
                        self.third_conf,
                        [subject, org],
                    )
                    if not self.negating:
                        self.relation(subject, org, "WORKS_FOR")
            return
        if not det & {"a", "an"}:
            return
        role = _role_phrase(attr)
        if not role:
            return
        if self.negating:
            self.fact(name, "is_a", role.lower(), f"{name} is {_article(role)} {role}", self.third_conf, [subject])
            return
        kind = self.entity(role.lower() if not attr.is_upper else role, "Concept", "rule")
        self.fact(name, "is_a", role.lower(), f"{name} is {_article(role)} {role}", self.third_conf, [subject, kind])
        self.relation(subject, kind, "INSTANCE_OF")
