"""What every conversation parser shares: the parsed-file model, strict reading, timestamps, roles, errors.

A parser turns one file into `ImportedConversation`s and raises `ImportFormatError` (file + line or
record + what is wrong) for anything it cannot import. Parsers only read: writing is `importer.py`'s job,
and it starts only after the whole file has parsed, so a bad file writes nothing.
"""

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import pydantic

from memory_runtime.domain import validation
from memory_runtime.domain.errors import ImportFormatError
from memory_runtime.domain.models import Turn, now

# Timestamps further in the future than this are rejected (clock skew between machines is tolerated).
FUTURE_TOLERANCE = timedelta(days=1)
# Epoch numbers above this are milliseconds (1e11 seconds is the year 5138).
_EPOCH_MS_THRESHOLD = 1e11

ROLE_ALIASES = {
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "gpt": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
    "function": "tool",
    "ipython": "tool",
}


@dataclass
class ImportedConversation:
    """One conversation read from a file, with its turns in order and original timestamps.

    `source` says where it came from (`path#record`); `user_id` is set only by formats whose records name
    their user (jsonl), otherwise the importer's `--user` owns it.
    """

    conversation_id: str
    turns: list[Turn]
    source: str
    user_id: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParseOptions:
    """Limits a parser checks while it reads (so that writing cannot fail on them half-way)."""

    max_content_chars: int = 100_000
    reference_time: datetime = field(default_factory=now)

    @property
    def latest_allowed(self) -> datetime:
        """The latest timestamp accepted: now plus FUTURE_TOLERANCE."""
        return self.reference_time + FUTURE_TOLERANCE


class SourceFile:
    """A conversation file read strictly as UTF-8, with its JSON parse (whole document or per line)."""

    def __init__(self, path: Path, options: ParseOptions | None = None) -> None:
        self.path = Path(path)
        self.name = str(path)
        self.options = options or ParseOptions()

    def error(self, reason: str, *, line: int | None = None, record: str | None = None) -> ImportFormatError:
        """An ImportFormatError about this file."""
        return ImportFormatError(self.name, reason, line=line, record=record)

    @cached_property
    def text(self) -> str:
        """The file's text; non-UTF-8 bytes are an error naming the line and byte offset."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise self.error(f"cannot read the file ({exc.strerror or exc})") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._not_utf8(data, exc, data.count(b"\n", 0, exc.start) + 1, exc.start) from None
        return text.removeprefix("\ufeff")  # a UTF-8 byte-order mark

    def _not_utf8(self, data: bytes, exc: UnicodeDecodeError, line: int, offset: int) -> ImportFormatError:
        return self.error(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at byte offset {offset}); re-encode the file as UTF-8",
            line=line,
        )

    def lines(self) -> Iterator[tuple[int, str]]:
        """(line number, text) of every line, read from disk one at a time (the file is never held whole);
        non-UTF-8 bytes are the same error as for `text`."""
        try:
            fh = self.path.open("rb")
        except OSError as exc:
            raise self.error(f"cannot read the file ({exc.strerror or exc})") from None
        with fh:
            offset = 0
            for number, raw in enumerate(fh, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise self._not_utf8(raw, exc, number, offset + exc.start) from None
                offset += len(raw)
                yield number, line.removeprefix("\ufeff") if number == 1 else line

    def first_char(self) -> str:
        """The first character that is not white space ('' for a blank file), read without the rest."""
        for _, line in self.lines():
            stripped = line.lstrip()
            if stripped:
                return stripped[0]
        return ""

    def is_json_lines(self) -> bool:
        """True when the first non-blank line is a JSON value by itself and another non-blank line follows
        (then the file cannot be one JSON document), judged from the first lines only."""
        first = True
        for _, line in self.lines():
            if not line.strip():
                continue
            if not first:
                return True
            try:
                _loads(line)
            except ValueError:
                return False
            first = False
        return False

    @cached_property
    def document(self) -> Any:
        """The whole file parsed as one JSON document (raises ImportFormatError with the line)."""
        return self.loads(self.text, line_offset=0)

    def try_document(self) -> tuple[bool, Any]:
        """(True, document) when the whole file is one JSON document, else (False, None)."""
        _ = self.text  # read errors (missing file, non-UTF-8 bytes) are not "not JSON": let them through
        try:
            return True, self.document
        except ImportFormatError:
            return False, None

    def json_lines(self) -> Iterator[tuple[int, Any]]:
        """(line number, value) for every non-blank line parsed as JSON (JSON Lines), streamed from disk."""
        for number, line in self.lines():
            if line.strip():
                yield number, self.loads(line, line_offset=number - 1)

    def first_json_line(self) -> Any:
        """The first non-blank line parsed as JSON, or None when it is not JSON."""
        for _, line in self.lines():
            if line.strip():
                try:
                    return _loads(line)
                except ValueError:
                    return None
        return None

    def loads(self, text: str, *, line_offset: int) -> Any:
        """json.loads with errors as ImportFormatError (line, column, truncated or not; NaN refused)."""
        try:
            return _loads(text)
        except json.JSONDecodeError as exc:
            truncated = exc.msg.startswith("Unterminated string") or exc.pos >= len(text.rstrip())
            detail = f"{exc.msg} column {exc.colno}" if exc.msg.endswith(" at") else f"{exc.msg} at column {exc.colno}"
            what = f"truncated JSON: the data ends early ({detail})" if truncated else f"invalid JSON ({detail})"
            raise self.error(what, line=line_offset + exc.lineno) from None
        except _NonFinite as exc:
            raise self.error(f"invalid JSON ({exc} is not a JSON number)", line=line_offset + 1) from None


class _NonFinite(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NonFinite(name)


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


# ---- fields -------------------------------------------------------------------------------------------

_NAIVE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    # LoCoMo-style session dates: "1:56 pm on 8 May, 2023"
    "%I:%M %p on %d %B, %Y",
    "%I:%M %p on %d %b, %Y",
    "%I:%M %p on %B %d, %Y",
    "%d %B %Y %H:%M",
    "%d %B, %Y",
    "%d %B %Y",
    "%B %d, %Y",
    "%d %b %Y",
)
_SPACES = re.compile(r"\s+")


def parse_timestamp(value: Any, options: ParseOptions) -> datetime:
    """An aware UTC datetime from ISO 8601 text (naive = UTC), epoch seconds/milliseconds or a LoCoMo date.

    Raises ValueError with a readable reason (the caller adds file and record).
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"bad timestamp {value!r}: expected ISO 8601 text or epoch seconds")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"bad timestamp {value!r}")
        seconds = value / 1000 if abs(value) >= _EPOCH_MS_THRESHOLD else value
        try:
            moment = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"bad timestamp {value!r}: out of range") from None
    elif isinstance(value, str):
        moment = _parse_text_time(value)
    else:
        raise ValueError(f"bad timestamp {value!r}: expected ISO 8601 text or epoch seconds")
    if moment > options.latest_allowed:
        raise ValueError(f"bad timestamp {value!r}: {moment.isoformat()} is in the future")
    return moment


def _parse_text_time(value: str) -> datetime:
    text = _SPACES.sub(" ", value.strip())
    if not text:
        raise ValueError("bad timestamp '': empty")
    iso = text[:-1] + "+00:00" if text[-1] in "zZ" else text
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        moment = None
        for fmt in _NAIVE_FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        if moment is None:
            raise ValueError(
                f"bad timestamp {value!r}: expected ISO 8601 (2024-03-01T09:30:00Z), epoch seconds, "
                f"or a date like '1:56 pm on 8 May, 2023'"
            ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def normalise_role(value: Any) -> str:
    """One of user/assistant/system/tool (aliases like human, ai, developer, function are mapped)."""
    if not isinstance(value, str) or value.strip().lower() not in ROLE_ALIASES:
        known = ", ".join(sorted(set(ROLE_ALIASES.values())))
        raise ValueError(f"unknown role {value!r} (expected {known}, or an alias such as human/ai/developer)")
    return ROLE_ALIASES[value.strip().lower()]


def make_turn(
    src: SourceFile,
    *,
    conversation_id: str,
    index: int,
    role: str,
    content: str,
    timestamp: datetime,
    metadata: dict[str, Any] | None = None,
    line: int | None = None,
    record: str | None = None,
) -> Turn:
    """A validated Turn; any problem is an ImportFormatError at `line` / `record` of `src`."""
    limit = src.options.max_content_chars
    if isinstance(content, str) and len(content) > limit:
        raise src.error(
            f"content has {len(content)} characters; the limit is MEMORY_MAX_CONTENT_CHARS={limit}",
            line=line,
            record=record,
        )
    try:
        validation.json_text(metadata or {}, "metadata")
        return Turn(
            conversation_id=conversation_id,
            index=index,
            role=role,  # type: ignore[arg-type]
            content=content,
            timestamp=timestamp,
            metadata=metadata or {},
        )
    except pydantic.ValidationError as exc:
        raise src.error(describe_validation_error(exc), line=line, record=record) from None
    except ValueError as exc:  # validation.ValidationError
        raise src.error(str(exc), line=line, record=record) from None


def describe_validation_error(exc: pydantic.ValidationError) -> str:
    """'field: reason; field: reason' from a pydantic error, without pydantic's URLs."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "value"
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def require(src: SourceFile, obj: Any, key: str, *, line: int | None = None, record: str | None = None) -> Any:
    """obj[key], or an ImportFormatError 'missing field'."""
    if not isinstance(obj, dict):
        raise src.error(f"expected a JSON object, got {json_type(obj)}", line=line, record=record)
    if key not in obj or obj[key] is None:
        raise src.error(f"missing field {key!r}", line=line, record=record)
    return obj[key]


def text_id(src: SourceFile, value: Any, what: str, *, line: int | None = None, record: str | None = None) -> str:
    """An id field as text (numbers are accepted and written in decimal)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise src.error(f"{what} must be a string, got {json_type(value)}", line=line, record=record)
    text = str(value).strip()
    if not text:
        raise src.error(f"{what} is empty", line=line, record=record)
    return text


def json_type(value: Any) -> str:
    """'an object', 'an array', 'a string', ... for error messages."""
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def flatten_parts(parts: list[Any], kind_key: str) -> list[str]:
    """Text of multimodal content parts (strings or dicts); non-text parts become [image]/[audio]/[file]."""
    pieces: list[str] = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, dict):
            kind = str(part.get(kind_key, ""))
            if isinstance(part.get("text"), str):
                pieces.append(part["text"])
            else:
                pieces.extend(f"[{media}]" for media in ("image", "audio", "file") if media in kind)
    return pieces
