"""`sessions`: multi-session dialogues between named speakers (LoCoMo and similar benchmarks).

A file holds one dialogue object or a JSON array of them. Two layouts are read:

* generic: ``{"conversation_id": "d1", "speakers": ["Maya", "Assistant"] | {"Maya": "user", ...},
  "sessions": [{"date_time": "2024-03-01T09:00:00Z", "turns": [{"speaker": "Maya", "text": "..."}]}]}``;
* LoCoMo: ``{"sample_id": "conv-26", "conversation": {"speaker_a": "Caroline", "speaker_b": "Melanie",
  "session_1_date_time": "1:56 pm on 8 May, 2023", "session_1": [{"speaker": "Caroline", "dia_id": "D1:1",
  "text": "..."}], ...}}`` (sessions in numeric order; other keys such as `qa` are ignored).

Speakers map to roles through `speakers` / `roles` when given, else the first speaker (``speaker_a`` in
LoCoMo, otherwise the first one to talk) is the user and every other speaker the assistant; a turn's own
``role`` wins. Turn indexes run on across sessions. A turn is dated at its session's time plus
TURN_SPACING per turn within the session (its own ``timestamp`` wins). The speaker, session number,
dialogue id and image fields are kept in the metadata; an image caption is appended as ``[image: …]``.
"""

import re
from datetime import timedelta
from typing import Any

from memory_ops.importers.base import (
    ImportedConversation,
    SourceFile,
    json_type,
    make_turn,
    normalise_role,
    parse_timestamp,
    text_id,
)

FORMAT = "sessions"
TURN_SPACING = timedelta(seconds=30)
SESSION_TIME_FIELDS = ("date_time", "datetime", "timestamp", "date", "time", "start_time")
TURN_LIST_FIELDS = ("turns", "dialogue", "dialog", "messages")
_LOCOMO_SESSION = re.compile(r"^session_(\d+)$")
_KEPT_FIELDS = ("dia_id", "img_url", "blip_caption", "query")


def _body(obj: dict[str, Any]) -> dict[str, Any]:
    inner = obj.get("conversation")
    return inner if isinstance(inner, dict) else obj


def looks_like(value: Any) -> bool:
    """Whether a JSON value is a sessions dialogue (or an array of them)."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        value = value[0]
    if not isinstance(value, dict):
        return False
    body = _body(value)
    return isinstance(body.get("sessions"), list) or any(_LOCOMO_SESSION.match(k) for k in body)


def _sessions(src: SourceFile, body: dict[str, Any], record: str) -> list[tuple[str, Any, Any]]:
    """(label, session time, turns) per session, in order."""
    if isinstance(body.get("sessions"), list):
        out = []
        for n, session in enumerate(body["sessions"], start=1):
            where = f"{record}, session {n}"
            if not isinstance(session, dict):
                raise src.error(f"expected a session object, got {json_type(session)}", record=where)
            when = next((session[k] for k in SESSION_TIME_FIELDS if session.get(k) is not None), None)
            turns = next((session[k] for k in TURN_LIST_FIELDS if k in session), None)
            if turns is None:
                raise src.error(f"missing field 'turns' (or one of {', '.join(TURN_LIST_FIELDS[1:])})", record=where)
            out.append((f"session {n}", when, turns))
        return out
    numbers = sorted(int(m.group(1)) for k in body if (m := _LOCOMO_SESSION.match(k)))
    return [(f"session_{n}", body.get(f"session_{n}_date_time"), body[f"session_{n}"]) for n in numbers]


def _speaker_roles(src: SourceFile, obj: dict[str, Any], body: dict[str, Any], record: str) -> dict[str, str]:
    given = obj.get("roles", obj.get("speakers", body.get("roles", body.get("speakers"))))
    roles: dict[str, str] = {}
    if isinstance(given, dict):
        for speaker, role in given.items():
            try:
                roles[str(speaker)] = normalise_role(role)
            except ValueError as exc:
                raise src.error(f"speaker {speaker!r}: {exc}", record=record) from None
    elif isinstance(given, list):
        for n, speaker in enumerate(given):
            roles[str(speaker)] = "user" if n == 0 else "assistant"
    elif isinstance(body.get("speaker_a"), str):
        roles[body["speaker_a"]] = "user"
        if isinstance(body.get("speaker_b"), str):
            roles[body["speaker_b"]] = "assistant"
    return roles


def _dialogue(src: SourceFile, n: int, obj: Any, single: bool) -> ImportedConversation:
    record = f"dialogue {n}"
    if not isinstance(obj, dict):
        raise src.error(f"expected a dialogue object, got {json_type(obj)}", record=record)
    body = _body(obj)
    raw_id = next((obj[k] for k in ("conversation_id", "id", "sample_id") if obj.get(k) is not None), None)
    conv_id = (
        text_id(src, raw_id, "conversation id", record=record)
        if raw_id is not None
        else (src.path.stem if single else f"{src.path.stem}-{n + 1}")
    )
    record = f"dialogue {n} ({conv_id})"
    roles = _speaker_roles(src, obj, body, record)
    sessions = _sessions(src, body, record)
    if not sessions:
        raise src.error("missing field 'sessions' (or LoCoMo session_1, session_2, ...)", record=record)
    out = ImportedConversation(conv_id, [], f"{src.name}#{record}")
    for number, (label, when, turns) in enumerate(sessions, start=1):
        where = f"{record}, {label}"
        if when is None:
            raise src.error("missing session time (date_time)", record=where)
        try:
            start = parse_timestamp(when, src.options)
        except ValueError as exc:
            raise src.error(str(exc), record=where) from None
        if not isinstance(turns, list):
            raise src.error(f"turns must be an array, got {json_type(turns)}", record=where)
        for k, turn in enumerate(turns):
            at = f"{where}, turn {k}"
            if not isinstance(turn, dict):
                raise src.error(f"expected a turn object, got {json_type(turn)}", record=at)
            speaker = turn.get("speaker", turn.get("name"))
            text = turn.get("text", turn.get("content"))
            if speaker is None and turn.get("role") is None:
                raise src.error("missing field 'speaker'", record=at)
            if text is not None and not isinstance(text, str):
                raise src.error(f"text must be a string, got {json_type(text)}", record=at)
            caption = turn.get("blip_caption")
            content = " ".join(
                p for p in [(text or "").strip(), f"[image: {caption}]" if isinstance(caption, str) else ""] if p
            )
            if text is None and not content:
                raise src.error("missing field 'text'", record=at)
            try:
                if turn.get("role") is not None:
                    role = normalise_role(turn["role"])
                else:
                    role = roles.setdefault(str(speaker), "user" if not roles else "assistant")
                moment = (
                    parse_timestamp(turn["timestamp"], src.options)
                    if turn.get("timestamp") is not None
                    else start + k * TURN_SPACING
                )
            except ValueError as exc:
                raise src.error(str(exc), record=at) from None
            if not content:
                out.warnings.append(f"{src.name}: {at}: skipped a turn with no text")
                continue
            metadata: dict[str, Any] = {"session": number}
            if speaker is not None:
                metadata["speaker"] = str(speaker)
            metadata.update({key: turn[key] for key in _KEPT_FIELDS if turn.get(key) is not None})
            out.turns.append(
                make_turn(
                    src,
                    conversation_id=conv_id,
                    index=len(out.turns),
                    role=role,
                    content=content,
                    timestamp=moment,
                    metadata=metadata,
                    record=at,
                )
            )
    return out


def parse(src: SourceFile) -> list[ImportedConversation]:
    """Every dialogue of a sessions file."""
    doc = src.document
    items = doc if isinstance(doc, list) else [doc]
    return [_dialogue(src, n, obj, single=len(items) == 1) for n, obj in enumerate(items)]
