"""The filter semantics of LangGraph store searches, as LangGraph's InMemoryStore applies them.

A filter maps top-level value fields to a wanted value: a plain value matches by equality (dicts field by
field, lists element by element), and a dict of operators (`$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`) matches
when every operator holds. The ordering operators compare as numbers; a field that is missing or not a number
does not match (InMemoryStore raises there, LangGraph's PostgresStore does not match).
"""

from collections.abc import Mapping
from typing import Any

from memory_runtime.domain.errors import ValidationError

OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"})


def matches(value: Mapping[str, Any], wanted: Mapping[str, Any] | None) -> bool:
    """Whether an item's value satisfies the filter (None or empty: every value does)."""
    return not wanted or all(_compare(value.get(field), want) for field, want in wanted.items())


def string_equalities(wanted: Mapping[str, Any] | None) -> dict[str, str]:
    """The filter's plain string equalities: a string equals only the same string, so a store can apply
    these itself (in SQL) before `matches` decides."""
    return {field: want for field, want in (wanted or {}).items() if isinstance(want, str)}


def numeric_bounds(wanted: Mapping[str, Any] | None) -> list[tuple[str, str, float]]:
    """The filter's ordering operators with a number as operand, as (field, operator, number): a store can
    drop the rows whose field is a number outside the bound (others still go to `matches`)."""
    return [
        (field, op, float(operand))
        for field, want in (wanted or {}).items()
        if isinstance(want, Mapping)
        for op, operand in want.items()
        if op in ("$gt", "$gte", "$lt", "$lte") and isinstance(operand, int | float) and not isinstance(operand, bool)
    ]


def check(wanted: Mapping[str, Any] | None) -> None:
    """Refuse an unknown operator before anything is read (ValidationError)."""
    for want in (wanted or {}).values():
        _check_value(want)


def _check_value(want: Any) -> None:
    if isinstance(want, Mapping):
        ops = [k for k in want if isinstance(k, str) and k.startswith("$")]
        unknown = sorted(set(ops) - OPERATORS)
        if unknown:
            raise ValidationError(f"unsupported filter operator {unknown[0]!r}; use one of {sorted(OPERATORS)}")
        if not ops:
            for nested in want.values():
                _check_value(nested)


def _compare(have: Any, want: Any) -> bool:
    if isinstance(want, Mapping):
        if any(isinstance(k, str) and k.startswith("$") for k in want):
            return all(_apply(have, op, operand) for op, operand in want.items())
        return isinstance(have, Mapping) and all(_compare(have.get(k), v) for k, v in want.items())
    if isinstance(want, list | tuple):
        return (
            isinstance(have, list | tuple)
            and len(have) == len(want)
            and all(_compare(h, w) for h, w in zip(have, want, strict=True))
        )
    return bool(have == want)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _apply(have: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return bool(have == operand)
    if op == "$ne":
        return bool(have != operand)
    a, b = _number(have), _number(operand)
    if a is None or b is None:
        return False
    if op == "$gt":
        return a > b
    if op == "$gte":
        return a >= b
    if op == "$lt":
        return a < b
    return a <= b  # $lte; `check` refused any other operator
