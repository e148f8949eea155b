"""Parsers of conversation files: jsonl, openai, chatgpt and sessions, with detection by content.

    from memory_ops.importers import parse_file
    parsed = parse_file("conversations.json")           # format detected from the content
    parsed.format, [c.conversation_id for c in parsed.conversations]

Each parser reads a whole file and returns `ImportedConversation`s or raises `ImportFormatError` (file,
line or record, and what is wrong); see each module's docstring for its layout. Writing them is
`memory_ops.importer`'s job.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType

from memory_ops.importers import chatgpt, jsonl, openai, sessions
from memory_ops.importers.base import ImportedConversation, ParseOptions, SourceFile

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
    """The format of a file, judged by its content (not its name); ImportFormatError when unknown."""
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


def parse_file(path: str | Path, fmt: str = "auto", options: ParseOptions | None = None) -> ParsedFile:
    """Parse one file completely (format `fmt`, or detected); raises ImportFormatError on any problem."""
    src = SourceFile(Path(path), options)
    if fmt not in FORMATS:
        raise src.error(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    name = detect_format(src) if fmt == "auto" else fmt
    conversations = PARSERS[name].parse(src)
    _check_unique_ids(src, conversations)
    warnings = [w for c in conversations for w in c.warnings]
    return ParsedFile(src.name, name, conversations, warnings)


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
    "FORMATS",
    "PARSERS",
    "ImportedConversation",
    "ParseOptions",
    "ParsedFile",
    "SourceFile",
    "detect_format",
    "expand_paths",
    "parse_file",
]
