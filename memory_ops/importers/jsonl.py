"""`jsonl`: one turn per line (or a JSON array of the same records).

    {"conversation_id": "c1", "index": 0, "role": "user", "content": "Hi", "timestamp": "2024-03-01T09:00:00Z",
     "user_id": "maya", "metadata": {"channel": "web"}}

`conversation_id`, `index`, `role`, `content` and `timestamp` are required; `user_id` and `metadata` are
optional, other keys are ignored. Turns are grouped by conversation (in order of first appearance) and
sorted by index. The same index twice with the same content is one turn; with different content it is an
error naming both lines. All turns of a conversation must name the same user_id (or none).

JSON Lines are read from disk one line at a time (`records`), so the importer can validate a file in one
pass and write it in a second without holding its turns (`Grouping` keeps only a hash and place per turn).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from memory_ops.importers.base import (
    ImportedConversation,
    SourceFile,
    json_type,
    make_turn,
    normalise_role,
    parse_timestamp,
    require,
    text_id,
)
from memory_runtime.domain import ids
from memory_runtime.domain.models import Turn

FORMAT = "jsonl"
REQUIRED = ("conversation_id", "index", "role", "content", "timestamp")


def looks_like(record: Any) -> bool:
    """Whether a JSON value is a jsonl turn record."""
    return isinstance(record, dict) and "conversation_id" in record and "content" in record and "role" in record


def _records(src: SourceFile) -> Iterator[tuple[int | None, str | None, Any]]:
    """(line, record label, value) for each record: JSON Lines (streamed from disk), or the items of one JSON
    array."""
    if src.first_char() == "[":
        doc = src.document
        for i, item in enumerate(doc):
            yield None, f"record {i}", item
        return
    for line, value in src.json_lines():
        yield line, None, value


@dataclass(frozen=True)
class Record:
    """One validated turn record: its turn, the user it names (or None) and where it is ("line 4")."""

    turn: Turn
    user_id: str | None
    line: int | None
    label: str | None

    @property
    def here(self) -> str:
        """Where the record is, for messages: "line 4" or "record 3"."""
        return f"line {self.line}" if self.line is not None else str(self.label)


def records(src: SourceFile) -> Iterator[Record]:
    """Every record of a jsonl file, validated one at a time; ImportFormatError at the first bad one."""
    for line, label, rec in _records(src):
        where = {"line": line, "record": label}
        if not isinstance(rec, dict):
            raise src.error(f"expected a JSON object per turn, got {json_type(rec)}", **where)
        for key in REQUIRED:
            require(src, rec, key, **where)
        conv_id = text_id(src, rec["conversation_id"], "conversation_id", **where)
        index = rec["index"]
        if isinstance(index, bool) or not isinstance(index, int):
            raise src.error(f"index must be a whole number, got {rec['index']!r}", **where)
        try:
            role = normalise_role(rec["role"])
            timestamp = parse_timestamp(rec["timestamp"], src.options)
        except ValueError as exc:
            raise src.error(str(exc), **where) from None
        if not isinstance(rec["content"], str):
            raise src.error(f"content must be a string, got {json_type(rec['content'])}", **where)
        metadata = rec.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise src.error(f"metadata must be an object, got {json_type(metadata)}", **where)
        user = rec.get("user_id")
        user = None if user is None else text_id(src, user, "user_id", **where)
        turn = make_turn(
            src,
            conversation_id=conv_id,
            index=index,
            role=role,
            content=rec["content"],
            timestamp=timestamp,
            metadata=metadata,
            **where,
        )
        yield Record(turn, user, line, label)


class Grouping:
    """The checks across the records of a file: a conversation names one user, and an index seen twice has the
    same content (then it is one turn). It remembers each turn's content hash and place, not the turn."""

    def __init__(self, src: SourceFile) -> None:
        self.src = src
        self.conversations: dict[str, ImportedConversation] = {}  # turns left empty
        self.hashes: dict[str, dict[int, tuple[str, str]]] = {}  # conversation -> index -> (content hash, place)

    def add(self, rec: Record) -> bool:
        """Check one record; True when it is a new turn, False when it repeats an earlier one."""
        turn = rec.turn
        conv_id = turn.conversation_id
        conv = self.conversations.get(conv_id)
        where: dict[str, Any] = {"line": rec.line, "record": rec.label}
        if conv is None:
            conv = self.conversations[conv_id] = ImportedConversation(
                conv_id, [], f"{self.src.name}#{rec.here}", rec.user_id
            )
            self.hashes[conv_id] = {}
        elif conv.user_id != rec.user_id:
            raise self.src.error(
                f"conversation {conv_id!r} has turns of user_id {conv.user_id!r} and {rec.user_id!r}; "
                "a conversation belongs to one user",
                **where,
            )
        digest = ids.content_hash(turn.content)
        previous = self.hashes[conv_id].get(turn.index)
        if previous is not None:
            if previous[0] != digest:
                raise self.src.error(
                    f"turn {turn.index} of conversation {conv_id!r} appears twice with different content "
                    f"(first at {previous[1]})",
                    **where,
                )
            return False
        self.hashes[conv_id][turn.index] = (digest, rec.here)
        return True


def parse(src: SourceFile) -> list[ImportedConversation]:
    """Every conversation of a jsonl file (turns sorted by index); raises ImportFormatError at the first bad
    record."""
    grouping = Grouping(src)
    for rec in records(src):
        if grouping.add(rec):
            grouping.conversations[rec.turn.conversation_id].turns.append(rec.turn)
    for conv in grouping.conversations.values():
        conv.turns.sort(key=lambda t: t.index)
    return list(grouping.conversations.values())
