"""Parsers of conversation files: jsonl, openai, chatgpt and sessions, with detection by content.

    from memory_ops.importers import parse_file
    parsed = parse_file("conversations.json")           # format detected from the content
    parsed.format, [c.conversation_id for c in parsed.conversations]

Each parser reads a whole file and returns `ImportedConversation`s or raises `ImportFormatError` (file,
line or record, and what is wrong); see each module's docstring for its layout. `scan_file` validates a
file without keeping its turns and `stream_turns` then yields them: the importer's two passes, which bound
its memory. Writing them is `memory_ops.importer`'s job.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType

from memory_ops.importers import chatgpt, jsonl, openai, sessions
from memory_ops.importers.base import ImportedConversation, ParseOptions, SourceFile
from memory_runtime.domain import ids
from memory_runtime.domain.models import Turn

PARSERS: dict[str, ModuleType] = {m.FORMAT: m for m in (jsonl, openai, chatgpt, sessions)}
FORMATS = ("auto", *PARSERS)
# Extensions picked up when a directory is imported.
EXTENSIONS = (".json", ".jsonl", ".ndjson")


@dataclass
class ParsedFile:
    """One file, parsed and validated: its format, conversations and non-fatal warnings."""

    path: str
    format: str
    conversations: list[ImportedConversation]
    warnings: list[str] = field(default_factory=list)

    @property
    def turn_count(self) -> int:
        """Turns in the file."""
        return sum(len(c.turns) for c in self.conversations)

    def time_range(self) -> tuple[datetime, datetime] | None:
        """Earliest and latest turn timestamp, or None for a file without turns."""
        stamps = [t.timestamp for c in self.conversations for t in c.turns if t.timestamp is not None]
        return (min(stamps), max(stamps)) if stamps else None


def detect_format(src: SourceFile) -> str:
    """The format of a file, judged by its content (not its name); ImportFormatError when unknown.

    JSON Lines are recognised from their first lines, so a large jsonl file is not read whole to find out.
    """
    if src.is_json_lines():
        first = src.first_json_line()
        if isinstance(first, dict) and isinstance(first.get("messages"), list):
            return "openai"
        if jsonl.looks_like(first):
            return "jsonl"
    whole, doc = src.try_document()
    if whole:
        for name in ("chatgpt", "sessions", "openai"):
            if PARSERS[name].looks_like(doc):
                return name
        if jsonl.looks_like(doc) or (isinstance(doc, list) and doc and jsonl.looks_like(doc[0])):
            return "jsonl"
        if isinstance(doc, list) and not doc:
            raise src.error("the file is an empty JSON array: nothing to import")
        raise src.error(
            "cannot tell the format from the content (expected a ChatGPT export with 'mapping', OpenAI "
            "'messages', multi-session dialogues with 'sessions', or jsonl turn records); pass --format"
        )
    first = src.first_json_line()
    if isinstance(first, dict) and isinstance(first.get("messages"), list):
        return "openai"
    if jsonl.looks_like(first):
        return "jsonl"
    if not src.text.strip():
        raise src.error("the file is empty: nothing to import")
    _ = src.document  # not JSON nor JSON Lines: raise the document's own error (with its line)
    raise src.error("cannot tell the format from the content; pass --format")  # pragma: no cover


def _format_of(src: SourceFile, fmt: str) -> str:
    if fmt not in FORMATS:
        raise src.error(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return detect_format(src) if fmt == "auto" else fmt


def parse_file(path: str | Path, fmt: str = "auto", options: ParseOptions | None = None) -> ParsedFile:
    """Parse one file completely (format `fmt`, or detected); raises ImportFormatError on any problem."""
    src = SourceFile(Path(path), options)
    name = _format_of(src, fmt)
    conversations = PARSERS[name].parse(src)
    _check_unique_ids(src, conversations)
    warnings = [w for c in conversations for w in c.warnings]
    return ParsedFile(src.name, name, conversations, warnings)


# ---- two passes over a file: validate without keeping turns, then stream them ---------------------------


@dataclass
class ConversationScan:
    """What the importer keeps of a validated conversation: its owner, source and the content hash of each
    turn index (to check against the store), not its turns."""

    conversation_id: str
    source: str
    user_id: str | None
    hashes: dict[int, str]


@dataclass
class FileScan:
    """A file validated completely (the first pass): its conversations without their turns, counts and days."""

    path: str
    format: str
    conversations: dict[str, ConversationScan] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    turn_count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    days: set[str] = field(default_factory=set)

    def count(self, turn: Turn) -> None:
        """Count a turn and its day."""
        self.turn_count += 1
        stamp = turn.timestamp
        if stamp is not None:
            self.first = stamp if self.first is None else min(self.first, stamp)
            self.last = stamp if self.last is None else max(self.last, stamp)
            self.days.add(stamp.strftime("%Y-%m-%d"))


def scan_file(path: str | Path, fmt: str = "auto", options: ParseOptions | None = None) -> FileScan:
    """Validate one file completely, as `parse_file` does, keeping a hash per turn instead of the turn.

    jsonl is read one line at a time; the JSON document formats are parsed whole (their document is in memory
    while it is read) and dropped. Raises ImportFormatError on any problem.
    """
    src = SourceFile(Path(path), options)
    name = _format_of(src, fmt)
    if name != "jsonl":
        parsed = parse_file(path, name, options)
        scan = FileScan(parsed.path, name, warnings=parsed.warnings)
        for conv in parsed.conversations:
            digests = {t.index: ids.content_hash(t.content) for t in conv.turns}
            scan.conversations[conv.conversation_id] = ConversationScan(
                conv.conversation_id, conv.source, conv.user_id, digests
            )
            for turn in conv.turns:
                scan.count(turn)
        return scan
    scan = FileScan(src.name, name)
    grouping = jsonl.Grouping(src)
    for rec in jsonl.records(src):
        if grouping.add(rec):
            scan.count(rec.turn)
    for conv_id, conv in grouping.conversations.items():
        digests = {index: digest for index, (digest, _) in grouping.hashes[conv_id].items()}
        scan.conversations[conv_id] = ConversationScan(conv_id, conv.source, conv.user_id, digests)
    return scan


def stream_turns(scan: FileScan, options: ParseOptions | None = None) -> Iterator[Turn]:
    """The second pass: every turn of a scanned file once, in file order (jsonl streamed from disk)."""
    src = SourceFile(Path(scan.path), options)
    if scan.format != "jsonl":
        for conv in PARSERS[scan.format].parse(src):
            yield from conv.turns
        return
    emitted: dict[str, set[int]] = {}
    for rec in jsonl.records(src):
        seen = emitted.setdefault(rec.turn.conversation_id, set())
        if rec.turn.index not in seen:
            seen.add(rec.turn.index)
            yield rec.turn


def _check_unique_ids(src: SourceFile, conversations: Sequence[ImportedConversation]) -> None:
    seen: dict[str, str] = {}
    for conv in conversations:
        if conv.conversation_id in seen:
            raise src.error(
                f"conversation id {conv.conversation_id!r} is used twice ({seen[conv.conversation_id]} and "
                f"{conv.source}); conversation ids must be unique"
            )
        seen[conv.conversation_id] = conv.source


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files to import: each file as given, each directory's *.json / *.jsonl / *.ndjson files (sorted)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS))
        else:
            out.append(path)
    return out


__all__ = [
    "EXTENSIONS",
    "ConversationScan",
    "FileScan",
    "FORMATS",
    "PARSERS",
    "ImportedConversation",
    "ParseOptions",
    "ParsedFile",
    "SourceFile",
    "detect_format",
    "expand_paths",
    "parse_file",
    "scan_file",
    "stream_turns",
]
