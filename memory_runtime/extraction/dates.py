"""Relative date expressions resolved against the time a turn was said ("next Friday" -> 2025-03-21).

`resolve_date(text, said_at)` returns an ISO date (`YYYY-MM-DD`), a month (`YYYY-MM`) or a year (`YYYY`),
or None for anything it does not understand (never a guess). The conventions, in the turn's own UTC day:

* today / tonight / this morning|afternoon|evening -> that day; tomorrow (+1), the day after tomorrow (+2),
  yesterday (-1); in|within N days|weeks (+N days, +7N days); N days|weeks ago;
* <weekday>, on|this|next <weekday> -> the first such weekday *after* the turn's day (as dateparser reads
  "next Friday"); last <weekday> -> the latest one before it;
* this weekend -> the coming Saturday (the day itself on a Saturday); next weekend -> a week after that;
* next|last week -> the Monday of that week; this|next|last month -> `YYYY-MM`; this|next|last year -> `YYYY`;
* in|on|by|this <Month> -> the next such month, the current one included (`YYYY-MM`), with its year if given;
* <Month> <day>, <day> <Month>, the <day>(st|nd|rd|th) of <Month> -> the next such date on or after the day,
  or in the given year; an ISO date is kept as is.
"""

import re
from datetime import date, datetime, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = "january february march april may june july august september october november december".split()
_MONTH_ABBR = {m[:3]: i + 1 for i, m in enumerate(MONTHS)} | {"sept": 9}
_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "couple of": 2,
    "few": 3,
}
_DAY_PARTS = ("today", "tonight", "this morning", "this afternoon", "this evening")
_MONTH_WORD = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_ORD = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(\d{4}))?"
_MONTH_DAY = re.compile(rf"^(?:on\s+)?{_MONTH_WORD}\.?\s+{_ORD}{_YEAR}$")
_DAY_MONTH = re.compile(rf"^(?:on\s+)?(?:the\s+)?{_ORD}\s+(?:of\s+)?{_MONTH_WORD}{_YEAR}$")
_MONTH_ONLY = re.compile(rf"^(?:in|on|by|this|for|until|next)?\s*(?:early|mid|late|end of)?\s*{_MONTH_WORD}{_YEAR}$")
_RELATIVE = re.compile(r"^(?:in|within)\s+(?:a\s+|the\s+next\s+)?(couple of|few|\d+|[a-z]+)\s+(day|week|month)s?$")
_AGO = re.compile(r"^(\d+|[a-z]+)\s+(day|week)s?\s+ago$")
_WEEKDAY = re.compile(r"^(?:on\s+|this\s+|next\s+|last\s+|coming\s+|this\s+coming\s+)?(" + "|".join(WEEKDAYS) + r")s?$")
_ISO = re.compile(r"^(?:on\s+)?(\d{4})-(\d{2})-(\d{2})$")


def _month(word: str) -> int:
    return _MONTH_ABBR[word[:4] if word.startswith("sept") else word[:3]]


def _count(word: str) -> int | None:
    return int(word) if word.isdigit() else _NUMBERS.get(word)


def _add_months(day: date, months: int) -> str:
    total = day.year * 12 + day.month - 1 + months
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def _next_date(month: int, dom: int, year: str | None, today: date) -> str | None:
    try:
        if year:
            return date(int(year), month, dom).isoformat()
        found = date(today.year, month, dom)
        if found < today:
            found = date(today.year + 1, month, dom)
        return found.isoformat()
    except ValueError:  # "February 30"
        return None


def resolve_date(text: str, said_at: datetime) -> str | None:
    """The date `text` names, read from the turn's day `said_at`; see the module docstring."""
    t = " ".join(text.lower().replace(",", " ,").replace(" ,", ",").split()).strip(" .!?")
    t = re.sub(r"^(?:on|for|by|until|from)\s+(?=(?:the\s+)?(?:next|this|last|coming|tomorrow|today|tonight))", "", t)
    today = said_at.date()
    if t in _DAY_PARTS:
        return today.isoformat()
    if t in ("tomorrow", "tomorrow morning", "tomorrow evening", "tomorrow night", "tomorrow afternoon"):
        return (today + timedelta(days=1)).isoformat()
    if t in ("the day after tomorrow", "day after tomorrow"):
        return (today + timedelta(days=2)).isoformat()
    if t in ("yesterday", "last night"):
        return (today - timedelta(days=1)).isoformat()
    if m := _ISO.match(t):
        try:
            return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:
            return None
    if m := _WEEKDAY.match(t):
        target = WEEKDAYS.index(m[1])
        if t.startswith("last"):
            back = (today.weekday() - target) % 7 or 7
            return (today - timedelta(days=back)).isoformat()
        ahead = (target - today.weekday()) % 7 or 7
        return (today + timedelta(days=ahead)).isoformat()
    if t in ("this weekend", "the weekend", "next weekend"):
        ahead = (5 - today.weekday()) % 7
        return (today + timedelta(days=ahead + (7 if t == "next weekend" else 0))).isoformat()
    if t in ("next week", "last week", "this week"):
        monday = today - timedelta(days=today.weekday())
        shift = {"next week": 7, "last week": -7, "this week": 0}[t]
        return (monday + timedelta(days=shift)).isoformat()
    if t in ("next month", "last month", "this month"):
        return _add_months(today, {"next month": 1, "last month": -1, "this month": 0}[t])
    if t in ("next year", "last year", "this year"):
        return f"{today.year + {'next year': 1, 'last year': -1, 'this year': 0}[t]:04d}"
    if m := _RELATIVE.match(t):
        n = _count(m[1])
        if n is None:
            return None
        if m[2] == "month":
            return _add_months(today, n)
        return (today + timedelta(days=n * (7 if m[2] == "week" else 1))).isoformat()
    if m := _AGO.match(t):
        n = _count(m[1])
        return None if n is None else (today - timedelta(days=n * (7 if m[2] == "week" else 1))).isoformat()
    if m := _MONTH_DAY.match(t):
        return _next_date(_month(m[1]), int(m[2]), m[3], today)
    if m := _DAY_MONTH.match(t):
        return _next_date(_month(m[2]), int(m[1]), m[3], today)
    if m := _MONTH_ONLY.match(t):
        if m[1] == "may" and not (t.startswith(("in ", "by ", "this ", "for ", "until ", "next ")) or m[2]):
            return None  # "may" alone is the modal verb far more often than the month
        month = _month(m[1])
        if m[2]:
            return f"{int(m[2]):04d}-{month:02d}"
        year = today.year + (1 if month < today.month or (t.startswith("next ") and month == today.month) else 0)
        return f"{year:04d}-{month:02d}"
    return None
