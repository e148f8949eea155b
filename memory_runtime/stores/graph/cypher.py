"""The one place that turns names into Cypher identifiers, checked against the whitelists of
`memory_runtime.domain.vocabulary`.

Labels, relationship types and var-length bounds can never be query parameters (on either backend), so
they are interpolated — only through these helpers, and only after a whitelist or range check.
"""

import re

from memory_runtime.domain.errors import InvalidLabel, InvalidRelationshipType
from memory_runtime.domain.vocabulary import ENTITY_RELATIONSHIPS, NODE_LABELS, STRUCTURAL_RELATIONSHIPS

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def ident(name: str) -> str:
    """A backticked Cypher identifier; raises ValueError for anything that is not a plain name."""
    if not _IDENT.match(name):
        raise ValueError(f"not a valid Cypher identifier: {name!r}")
    return f"`{name}`"


def label(name: str) -> str:
    """A whitelisted node label, ready to interpolate."""
    if name not in NODE_LABELS:
        raise InvalidLabel(f"unknown node label {name!r}; allowed: {', '.join(NODE_LABELS)}")
    return ident(name)


def rel_type(name: str) -> str:
    """A whitelisted relationship type, ready to interpolate."""
    if name in STRUCTURAL_RELATIONSHIPS or name in ENTITY_RELATIONSHIPS:
        return ident(name)
    raise InvalidRelationshipType(
        f"relationship type {name!r} is not allowed; use one of: {', '.join(ENTITY_RELATIONSHIPS)}"
    )


def entity_rel_type(name: str) -> str:
    """A relationship type callers may create between entities (relate()), ready to interpolate."""
    if name not in ENTITY_RELATIONSHIPS:
        raise InvalidRelationshipType(
            f"relationship type {name!r} is not allowed; use one of: {', '.join(ENTITY_RELATIONSHIPS)}"
        )
    return ident(name)


def hops(lo: int, hi: int) -> str:
    """Var-length bounds `*lo..hi` for 0 <= lo <= hi <= 4 (bounds cannot be parameters)."""
    if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi <= 4):
        raise ValueError(f"traversal depth must satisfy 0 <= lo <= hi <= 4, got {lo}..{hi}")
    return f"*{lo}..{hi}"
