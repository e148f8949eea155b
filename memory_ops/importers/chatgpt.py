"""`chatgpt`: the ChatGPT data export (`conversations.json`).

The export is a JSON array of conversations (a single conversation object is accepted too). Each has an
id (`conversation_id` or `id`), `title`, `create_time`, a `mapping` of nodes ``{id, parent, children,
message}`` that forms a tree (every edit or regeneration starts a branch) and `current_node`, the leaf the
user was looking at. We keep that branch: walk from `current_node` up through `parent` to the root and
reverse. Without `current_node` the newest branch is taken (the last child at every step).

Skipped: nodes without a message (the root), messages marked `is_visually_hidden_from_conversation`,
hidden context and reasoning (`user_editable_context`, `model_editable_context`, `thoughts`,
`reasoning_recap`) and messages with no text. Text is taken from `parts` (`text`, `multimodal_text`: images
become ``[image]``) or `text` (`code`, `execution_output`, `tether_quote`, ...). Each message keeps its
`create_time`; a message without one gets the previous message's time plus one second (the first one, the
conversation's `create_time`). The message id, model and conversation title go into the turn's metadata.
"""

from datetime import datetime, timedelta
from typing import Any

from memory_ops.importers.base import (
    ImportedConversation,
    SourceFile,
    flatten_parts,
    json_type,
    make_turn,
    normalise_role,
    parse_timestamp,
    require,
    text_id,
)

FORMAT = "chatgpt"
HIDDEN_CONTENT_TYPES = {"user_editable_context", "model_editable_context", "thoughts", "reasoning_recap"}
_STEP = timedelta(seconds=1)


def looks_like(value: Any) -> bool:
    """Whether a JSON value is a ChatGPT export (an array of conversations with `mapping`) or one of them."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        value = value[0]
    return isinstance(value, dict) and isinstance(value.get("mapping"), dict)


def branch(src: SourceFile, conv: dict[str, Any], record: str) -> list[tuple[str, dict[str, Any]]]:
    """(node id, node) from the root to `current_node` (or to the newest leaf)."""
    mapping = conv["mapping"]
    if not isinstance(mapping, dict):
        raise src.error(f"mapping must be an object, got {json_type(mapping)}", record=record)
    current = conv.get("current_node")
    if current is None:  # older exports: follow the newest child from the root
        roots = [k for k, n in mapping.items() if isinstance(n, dict) and not n.get("parent")]
        if not roots:
            return []
        current = roots[0]
        while isinstance(mapping.get(current), dict) and mapping[current].get("children"):
            current = mapping[current]["children"][-1]
    if current not in mapping:
        raise src.error(f"current_node {current!r} is not in the mapping", record=record)
    path: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    node_id: Any = current
    while node_id is not None:
        if node_id in seen:
            raise src.error(f"the mapping has a cycle through node {node_id!r}", record=record)
        seen.add(node_id)
        node = mapping.get(node_id)
        if not isinstance(node, dict):
            raise src.error(f"node {node_id!r} (a parent on the current branch) is not in the mapping", record=record)
        path.append((str(node_id), node))
        node_id = node.get("parent")
    path.reverse()
    return path


def message_text(message: dict[str, Any]) -> str | None:
    """The visible text of a message, or None when it is hidden (context, reasoning, hidden system)."""
    meta = message.get("metadata") or {}
    if isinstance(meta, dict) and meta.get("is_visually_hidden_from_conversation"):
        return None
    content = message.get("content") or {}
    if not isinstance(content, dict):
        return None
    kind = content.get("content_type")
    if kind in HIDDEN_CONTENT_TYPES:
        return None
    parts = content.get("parts")
    pieces = flatten_parts(parts, "content_type") if isinstance(parts, list) else []
    for key in ("text", "result"):
        if not pieces and isinstance(content.get(key), str):
            pieces.append(content[key])
    text = "\n".join(p for p in pieces if p)
    return text if text.strip() else None


def _conversation(src: SourceFile, i: int, conv: Any) -> ImportedConversation:
    record = f"conversation {i}"
    if not isinstance(conv, dict):
        raise src.error(f"expected a conversation object, got {json_type(conv)}", record=record)
    raw_id = conv.get("conversation_id", conv.get("id"))
    if raw_id is None:
        raise src.error("missing field 'conversation_id' (or 'id')", record=record)
    conv_id = text_id(src, raw_id, "conversation id", record=record)
    record = f"conversation {i} ({conv_id})"
    require(src, conv, "mapping", record=record)
    title = conv.get("title") if isinstance(conv.get("title"), str) else None
    try:
        previous: datetime | None = (
            None if conv.get("create_time") is None else parse_timestamp(conv["create_time"], src.options) - _STEP
        )
    except ValueError as exc:
        raise src.error(f"create_time: {exc}", record=record) from None
    out = ImportedConversation(conv_id, [], f"{src.name}#{record}")
    for node_id, node in branch(src, conv, record):
        message = node.get("message")
        if message is None:
            continue
        where = f"{record}, node {node_id}"
        if not isinstance(message, dict):
            raise src.error(f"message must be an object, got {json_type(message)}", record=where)
        author = message.get("author")
        if not isinstance(author, dict) or author.get("role") is None:
            raise src.error("missing field 'author.role'", record=where)
        try:
            role = normalise_role(author["role"])
            moment = (
                parse_timestamp(message["create_time"], src.options) if message.get("create_time") is not None else None
            )
        except ValueError as exc:
            raise src.error(str(exc), record=where) from None
        if moment is None:
            if previous is None:
                raise src.error("no create_time on the message nor on its conversation", record=where)
            moment = previous + _STEP
        previous = moment
        text = message_text(message)
        if text is None:
            continue
        meta = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
        metadata: dict[str, Any] = {"chatgpt_message_id": str(message.get("id") or node_id)}
        if meta.get("model_slug"):
            metadata["model"] = meta["model_slug"]
        if author.get("name"):
            metadata["author_name"] = author["name"]
        if title:
            metadata["title"] = title
        out.turns.append(
            make_turn(
                src,
                conversation_id=conv_id,
                index=len(out.turns),
                role=role,
                content=text,
                timestamp=moment,
                metadata=metadata,
                record=where,
            )
        )
    return out


def parse(src: SourceFile) -> list[ImportedConversation]:
    """Every conversation of a ChatGPT export, each linearised along its current branch."""
    doc = src.document
    convs = doc if isinstance(doc, list) else [doc]
    return [_conversation(src, i, conv) for i, conv in enumerate(convs)]
