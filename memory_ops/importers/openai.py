"""`openai`: chat-completions `messages`, as logged or as fine-tuning data.

Accepted shapes (a file may hold one conversation or several):

* a JSON array of messages ``[{"role": "user", "content": "..."}, ...]`` (one conversation per file);
* an object ``{"messages": [...], "id": "...", "created_at": ...}``, or a JSON array of such objects;
* JSON Lines of such objects (the fine-tuning format).

The conversation id is the object's ``conversation_id`` / ``id`` field, else the file name (without its
extension) for a one-conversation file, else ``<file name>-<n>`` (n counts conversations from 1).
Message times come from ``timestamp`` / ``created_at`` / ``create_time`` / ``created`` (ISO text or epoch);
a message without one is placed one second after the previous message (one second before the next one
when no earlier message is dated). A conversation with no message times starts at the object's own time
field, else at the file's modification time (reported as a warning). Content may be a string, a
list of content parts (text parts are joined, images become ``[image]``) or null with ``tool_calls``
(rendered as ``[tool call] name(arguments)``); ``name``, ``tool_calls`` and ``tool_call_id`` are kept in
the turn's metadata. Messages with no content at all are skipped. Roles: user, assistant, system,
developer (→ system), tool and function (→ tool).
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from memory_ops.importers.base import (
    ImportedConversation,
    SourceFile,
    flatten_parts,
    json_type,
    make_turn,
    normalise_role,
    parse_timestamp,
    text_id,
)

FORMAT = "openai"
TIME_FIELDS = ("timestamp", "created_at", "create_time", "created")
_STEP = timedelta(seconds=1)
_KEPT_FIELDS = ("name", "tool_calls", "tool_call_id", "function_call")


def looks_like(value: Any) -> bool:
    """Whether a JSON value is an OpenAI messages list, a {"messages": [...]} object or a list of those."""
    if isinstance(value, dict):
        return isinstance(value.get("messages"), list)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        first = value[0]
        if isinstance(first.get("messages"), list):
            return True
        return "role" in first and ("content" in first or "tool_calls" in first) and "conversation_id" not in first
    return False


def _is_conversation_list(doc: list[Any]) -> bool:
    return bool(doc) and isinstance(doc[0], dict) and "messages" in doc[0]


def _time_of(obj: dict[str, Any]) -> Any:
    for key in TIME_FIELDS:
        if obj.get(key) is not None:
            return obj[key]
    return None


def _content(msg: dict[str, Any]) -> str:
    content = msg.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "\n".join(p for p in flatten_parts(content, "type") if p)
    elif content is None:
        text = ""
    else:
        raise ValueError(f"content must be a string, a list of parts or null, got {json_type(content)}")
    calls = msg.get("tool_calls") or ([msg["function_call"]] if msg.get("function_call") else [])
    rendered = []
    for call in calls if isinstance(calls, list) else []:
        fn = call.get("function", call) if isinstance(call, dict) else {}
        if isinstance(fn, dict) and fn.get("name"):
            rendered.append(f"[tool call] {fn['name']}({fn.get('arguments', '')})")
    return "\n".join(p for p in [text, *rendered] if p and p.strip())


def _times(src: SourceFile, messages: list[Any], start: Any, line: int | None, record: str) -> list[datetime]:
    """One time per message: its own, else one second after the previous one (before the first known)."""
    known: list[datetime | None] = []
    for i, msg in enumerate(messages):
        stamp = _time_of(msg) if isinstance(msg, dict) else None
        try:
            known.append(None if stamp is None else parse_timestamp(stamp, src.options))
        except ValueError as exc:
            where = f"{record}, message {i}" if record else f"message {i}"
            raise src.error(str(exc), line=line, record=where) from None
    first = next(((i, t) for i, t in enumerate(known) if t is not None), None)
    if first is None:
        try:
            anchor = (
                parse_timestamp(start, src.options)
                if start is not None
                else datetime.fromtimestamp(src.path.stat().st_mtime, UTC)
            )
        except ValueError as exc:
            raise src.error(str(exc), line=line, record=record or None) from None
        first = (0, anchor)
    out: list[datetime] = []
    for i, moment in enumerate(known):
        if moment is None:
            moment = first[1] - (first[0] - i) * _STEP if i < first[0] else out[-1] + _STEP
        out.append(moment)
    return out


def _conversation(
    src: SourceFile, messages: Any, conv_id: str, start: Any, record: str, line: int | None
) -> ImportedConversation:
    if not isinstance(messages, list):
        raise src.error(f"messages must be an array, got {json_type(messages)}", line=line, record=record or None)
    label = f"line {line}" if line is not None else (record or f"conversation {conv_id}")
    conv = ImportedConversation(conv_id, [], f"{src.name}#{label}")
    times = _times(src, messages, start, line, record)
    if start is None and not any(_time_of(m) for m in messages if isinstance(m, dict)):
        conv.warnings.append(
            f"{src.name}: conversation {conv_id!r} has no timestamps; it is dated from the file's modification time"
        )
    for i, msg in enumerate(messages):
        where = f"{record}, message {i}" if record else f"message {i}"
        if not isinstance(msg, dict):
            raise src.error(f"expected a message object, got {json_type(msg)}", line=line, record=where)
        if msg.get("role") is None:
            raise src.error("missing field 'role'", line=line, record=where)
        try:
            role = normalise_role(msg["role"])
            content = _content(msg)
        except ValueError as exc:
            raise src.error(str(exc), line=line, record=where) from None
        if not content:
            conv.warnings.append(f"{src.name}: {where}: skipped a message with no content")
            continue
        metadata = {k: msg[k] for k in _KEPT_FIELDS if msg.get(k) is not None}
        if str(msg["role"]).strip().lower() != role:
            metadata["original_role"] = msg["role"]
        conv.turns.append(
            make_turn(
                src,
                conversation_id=conv_id,
                index=len(conv.turns),
                role=role,
                content=content,
                timestamp=times[i],
                metadata=metadata,
                line=line,
                record=where,
            )
        )
    return conv


def parse(src: SourceFile) -> list[ImportedConversation]:
    """Every conversation of an OpenAI messages file; raises ImportFormatError at the first bad message."""
    stem = src.path.stem
    whole, doc = src.try_document()
    if whole and isinstance(doc, list) and not _is_conversation_list(doc):  # one bare messages array
        return [_conversation(src, doc, stem, None, "", None)] if doc else []
    if whole and isinstance(doc, dict):
        items: list[tuple[int | None, str, Any]] = [(None, "", doc)]
        single = True
    elif whole and isinstance(doc, list):
        items = [(None, f"conversation {i}", obj) for i, obj in enumerate(doc)]
        single = len(items) == 1
    else:
        items = [(line, "", obj) for line, obj in src.json_lines()]
        single = len(items) == 1
    out = []
    for n, (line, record, obj) in enumerate(items, start=1):
        if not isinstance(obj, dict):
            raise src.error(
                f"expected an object with 'messages', got {json_type(obj)}", line=line, record=record or None
            )
        if "messages" not in obj:
            raise src.error("missing field 'messages'", line=line, record=record or None)
        raw_id = obj.get("conversation_id", obj.get("id"))
        conv_id = (
            text_id(src, raw_id, "conversation id", line=line, record=record or None)
            if raw_id is not None
            else (stem if single else f"{stem}-{n}")
        )
        out.append(_conversation(src, obj["messages"], conv_id, _time_of(obj), record, line))
    return out
