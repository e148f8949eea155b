"""`jsonl`: one turn per line (or a JSON array of the same records).

    {"conversation_id": "c1", "index": 0, "role": "user", "content": "Hi", "timestamp": "2024-03-01T09:00:00Z",
     "user_id": "maya", "metadata": {"channel": "web"}}

`conversation_id`, `index`, `role`, `content` and `timestamp` are required; `user_id` and `metadata` are
optional, other keys are ignored. Turns are grouped by conversation (in order of first appearance) and
sorted by index. The same index twice with the same content is one turn; with different content it is an
error naming both lines. All turns of a conversation must name the same user_id (or none).
"""

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
from memory_runtime.domain.models import Turn

FORMAT = "jsonl"
REQUIRED = ("conversation_id", "index", "role", "content", "timestamp")


def looks_like(record: Any) -> bool:
    """Whether a JSON value is a jsonl turn record."""
    return isinstance(record, dict) and "conversation_id" in record and "content" in record and "role" in record


def _records(src: SourceFile) -> list[tuple[int | None, str | None, Any]]:
    """(line, record label, value) for each record: JSON Lines, or the items of one JSON array."""
    first = src.text.lstrip()[:1]
    if first == "[":
        doc = src.document
        return [(None, f"record {i}", item) for i, item in enumerate(doc)]
    return [(line, None, value) for line, value in src.json_lines()]


def parse(src: SourceFile) -> list[ImportedConversation]:
    """Every conversation of a jsonl file; raises ImportFormatError at the first bad record."""
    convs: dict[str, ImportedConversation] = {}
    seen: dict[tuple[str, int], tuple[Turn, str]] = {}
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
        here = f"line {line}" if line is not None else str(label)
        conv = convs.get(conv_id)
        if conv is None:
            conv = convs[conv_id] = ImportedConversation(conv_id, [], f"{src.name}#{here}", user)
        elif conv.user_id != user:
            raise src.error(
                f"conversation {conv_id!r} has turns of user_id {conv.user_id!r} and {user!r}; "
                "a conversation belongs to one user",
                **where,
            )
        previous = seen.get((conv_id, index))
        if previous is not None:
            if previous[0].content != turn.content:
                raise src.error(
                    f"turn {index} of conversation {conv_id!r} appears twice with different content "
                    f"(first at {previous[1]})",
                    **where,
                )
            continue
        seen[(conv_id, index)] = (turn, here)
        conv.turns.append(turn)
    for conv in convs.values():
        conv.turns.sort(key=lambda t: t.index)
    return list(convs.values())
