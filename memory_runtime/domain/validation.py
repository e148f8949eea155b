"""Input checks shared by the models and the writers; each failure is a ValidationError naming the field.

ValidationError is a ValueError, so the same functions serve as pydantic validators.
"""

import json
import re
from typing import Any

from memory_runtime.domain.errors import ValidationError

MAX_ID_CHARS = 256
# A JSON-escaped NUL (\u0000) not preceded by an escaping backslash: PostgreSQL jsonb cannot store it.
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def text(value: Any, what: str) -> str:
    """A non-blank string without NUL characters or lone surrogates."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{what} must be a non-empty string")
    if "\x00" in value:
        raise ValidationError(f"{what} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{what} is not valid Unicode text (it contains lone surrogates)") from None
    return value


def identifier(value: Any, what: str) -> str:
    """A stripped name or id of at most MAX_ID_CHARS characters."""
    name = text(value, what).strip()
    if len(name) > MAX_ID_CHARS:
        raise ValidationError(f"{what} is longer than {MAX_ID_CHARS} characters")
    return name


def key(value: Any, what: str) -> str:
    """An identifier that also keys a store (user and conversation ids): no control characters.

    FalkorDB 4.x crashes (SIGSEGV in EnforceUniqueEntity) when a uniquely constrained property holds
    U+0001, and conversation ids are the one such property callers choose; no id needs control characters.
    """
    name = identifier(value, what)
    if _CONTROL.search(name):
        raise ValidationError(f"{what} must not contain control characters (U+0000-U+001F, U+007F-U+009F)")
    return name


def json_text(value: Any, what: str) -> str:
    """`value` as JSON text that a jsonb column accepts (no NaN/inf, NUL or lone surrogates)."""
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            f"{what} is not JSON serialisable ({type(exc).__name__}: {exc}); use strings, numbers, "
            f"booleans, None, lists and dicts with string keys"
        ) from None
    if _JSON_NUL.search(encoded):
        raise ValidationError(f"{what} contains a NUL character, which PostgreSQL jsonb cannot store")
    try:
        encoded.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{what} is not valid Unicode text (it contains lone surrogates)") from None
    return encoded
