"""One turn through the rules: who "I" is, which persons "she"/"he" may mean, then `rules` + `personal`.

* Attribution: a user turn's "I" is the user (subject `user`). A non-user turn with a `speaker` (a two-human
  chat: the other human is stored with role `assistant` and metadata `speaker`) is that person talking: its
  first-person facts are about the speaker, by name, with the speaker as a Person entity. An assistant turn
  without a speaker yields third-person facts only (an assistant's "I" is not anybody to remember).
* Coreference (`Coreference`): "she"/"he" as a clause subject refers to a person only when exactly one
  person other than the speaker was named earlier in the same turn, or else in the same speaker's previous
  turn of the conversation. Anything ambiguous stays unresolved (no fact).
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from memory_runtime.extraction.personal import PersonalRules
from memory_runtime.extraction.rules import CONF_THIRD_PERSON, _Builder, clean_name
from memory_runtime.extraction.types import USER_SUBJECT, EntityMention, ExtractedFact, Extraction, TurnInput

if TYPE_CHECKING:
    from spacy.tokens import Doc


@dataclass
class Coreference:
    """The persons each speaker of each conversation named in their latest turn that named anyone."""

    recent: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @staticmethod
    def key(turn: TurnInput) -> tuple[str, str] | None:
        """(conversation, speaker) of a turn, or None when it has no conversation (no cross-turn context)."""
        if turn.conversation_id is None:
            return None
        return (turn.conversation_id, turn.speaker or turn.role)

    def antecedents(self, turn: TurnInput) -> list[str]:
        """Persons "she"/"he" at the start of `turn` may refer to."""
        key = self.key(turn)
        return list(self.recent.get(key, [])) if key is not None else []

    def update(self, turn: TurnInput, named: list[str]) -> None:
        """Remember the persons `turn` ended with (nothing changes when it named nobody)."""
        key = self.key(turn)
        if key is not None and named:
            self.recent[key] = named


def _speaker_name(turn: TurnInput) -> str | None:
    """The named human whose "I" a non-user turn is, if any."""
    if turn.role == "user" or not turn.speaker:
        return None
    name = clean_name(turn.speaker)
    return name if name and name.lower() not in ("assistant", "ai", "bot", "system") else None


def _as_speaker(ext: Extraction, name: str) -> Extraction:
    """The first-person facts of `ext` re-attributed from `user` to the speaker `name`."""
    me = ext.add_entity(EntityMention(name, "Person", "speaker"))
    facts = []
    for f in ext.facts:
        if f.subject != USER_SUBJECT:
            facts.append(f)
            continue
        claim = name + f.claim[len("User") :] if f.claim.startswith("User") else f.claim
        facts.append(
            ExtractedFact(
                name,
                f.predicate,
                f.object,
                claim,
                min(f.confidence, CONF_THIRD_PERSON),
                (me, *f.entities),
                negated=f.negated,
                when=f.when,
                rel_type=f.rel_type,
            )
        )
    ext.facts = facts
    return ext


def extract_turn_doc(doc: "Doc", turn: TurnInput, coref: Coreference | None = None) -> Extraction:
    """Entities, facts and relations of one parsed turn (see the module docstring)."""
    speaker = _speaker_name(turn)
    first_person = turn.role == "user" or speaker is not None
    antecedents = coref.antecedents(turn) if coref is not None else []
    builder = _Builder(
        doc, first_person=first_person, role="user" if first_person else turn.role, antecedents=antecedents
    )
    personal = PersonalRules(builder, turn.timestamp)
    ext = builder.run(hooks=[personal], self_names=[speaker] if speaker else [])
    if coref is not None and builder.antecedents != antecedents:
        coref.update(turn, builder.antecedents)
    return _as_speaker(ext, speaker) if speaker else ext
