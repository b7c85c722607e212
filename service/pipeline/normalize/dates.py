"""Dates as written → a window of days, resolved against the publication date.

`resolve(text, published, tense)` returns a `DateMention` with `start`/`end` (inclusive) and a
granularity, or with `unresolved` saying why not. Newsroom date words are a small closed set, so
the relative forms are resolved here by rule ("this week", "on Tuesday", "later this year",
"in December"); dateparser (`languages=["en"]`) takes the absolute forms the rules do not know.
It is slow (from half a millisecond to a few a phrase, against tens of microseconds for a rule)
and runs only where every rule has failed; `stats.dateparser_calls` counts how often.

The year of a date written without one, and the weekday of "on Tuesday", depend on tense: a
meeting that was held happened before publication, a planned one after. `Tense` carries that
from the record's status. With `NEAREST` (tense unknown) a date up to `RECENT_DAYS` back is
taken as past, and anything earlier as the next one ahead: wires name a date months back with
its year or as "last October", but a date months ahead without one.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from dateparser.date import DateDataParser

from attache.schemas import DateGranularity, DateIssue, DateMention


class Tense(StrEnum):
    PAST = "past"
    FUTURE = "future"
    NEAREST = "nearest"


RECENT_DAYS = 120


@dataclass
class Statistics:
    """What the dates of this process have cost: read by the benchmark (bench/grounding.py)."""

    dateparser_calls: int = 0  # phrases no rule resolved, handed to dateparser


stats = Statistics()


_MONTHS = (
    {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
    | {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
    | {"sept": 9}
)
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)?"
_MONTH = r"(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(\d{4})"
_LEAD = re.compile(
    r"^(?:in the early hours of|on|in|at|by|from|since|until|till|during|along|over|throughout|"
    r"as of|as early as|starting|the|of)\s+",
    re.I,
)

_DAY_MONTH = re.compile(
    rf"^{_ORDINAL}(?:\s*(?:-|to|and)\s*{_ORDINAL})?\s+{_MONTH},?(?:\s+{_YEAR})?$", re.I
)
_MONTH_DAY = re.compile(
    rf"^{_MONTH}\s+{_ORDINAL}(?:\s*(?:-|to|and)\s*{_ORDINAL})?,?(?:\s+{_YEAR})?$", re.I
)
_MONTH_YEAR = re.compile(
    rf"^(early|mid|late|end of|the end of|beginning of)?[\s-]*{_MONTH}(?:,?\s+{_YEAR})?$", re.I
)
_QUALIFIED_MONTH = re.compile(rf"^(last|next|this|coming|past)\s+{_MONTH}$", re.I)
_YEAR_ONLY = re.compile(rf"^(?:fiscal\s+|calendar\s+)?(early|mid|late)?[\s-]*{_YEAR}$", re.I)
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEKDAY = re.compile(r"^(last|next|this|coming|past)?\s*(" + "|".join(_WEEKDAYS) + r")$", re.I)
_RELATIVE_UNIT = re.compile(
    r"^(this|next|last|the past|the coming|the next|coming|past|later this|earlier this|"
    r"early next|late next|late last|early last|later next)\s+(week|month|year|weekend)$",
    re.I,
)
_AGO = re.compile(r"^(a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d+)\s+"
                  r"(day|week|month|year)s?\s+(ago|earlier|later|from now)$", re.I)  # fmt: skip
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_WITHIN = re.compile(
    r"^(?:within|in|over)\s+(?:the\s+next\s+)?(a|an|one|two|three|four|five|six|seven|eight|"
    r"nine|ten|\d+|a few)\s+(day|week|month)s?$",
    re.I,
)
_TIME_OF_DAY = re.compile(
    r"^(?:around|about|at|by|before|after)?\s*\d{1,2}(?:[.:]\d{2})?\s*"
    r"(?:a\.?m\.?|p\.?m\.?|gmt|hours|local time)(?:\s+local time|\s+gmt)?$",
    re.I,
)
# "early yesterday", "later today": still that day.
_PART_OF_DAY = re.compile(
    r"^(?:early|late|later|earlier)\s+(?=today|yesterday|tomorrow|tonight|this\s+(?:morning|afternoon|evening))",
    re.I,
)
_NOW = {"today", "tonight", "this morning", "this afternoon", "this evening", "now", "currently",
        "at present", "morning", "afternoon", "evening", "week"}  # fmt: skip
_BETWEEN = re.compile(r"^(?:between|from)\s+(.+?)\s+(?:and|to|until|through)\s+(.+)$", re.I)
# "today's", "yesterday's": the day itself.
_POSSESSIVE = re.compile(r"^(today|tonight|yesterday|tomorrow)['\u2019]s$")
# "April-5-6" is "April 5-6".
_LETTER_DASH_DIGIT = re.compile(r"(?<=[A-Za-z])-(?=\d)")
_COMING = re.compile(
    r"^(?:the\s+)?(?:next|coming)\s+(?:few\s+|several\s+)?(days|weeks|months)$", re.I
)


def resolve(text: str, published: dt.date | None, tense: Tense = Tense.NEAREST) -> DateMention:
    """Resolve `text` (a date as written) against `published`."""
    phrase = " ".join(text.split()).strip(" .,")
    phrase = _LETTER_DASH_DIGIT.sub(" ", phrase)
    if match := _BETWEEN.match(phrase):
        return _between(text, match[1], match[2], published, tense)
    while _LEAD.match(phrase) and not _WITHIN.match(phrase):
        phrase = _LEAD.sub("", phrase, count=1)
    phrase = _PART_OF_DAY.sub("", phrase)
    window = _absolute(phrase, published, tense)
    if window is None and published is None and _is_relative(phrase):
        return DateMention(text=text, unresolved=DateIssue.NO_PUBLICATION_DATE)
    if window is None and published is not None:
        window = _relative(phrase, published, tense)
    if window is None:
        window = _with_dateparser(phrase, published)
    if window is None:
        issue = DateIssue.YEAR_UNKNOWN if _names_a_month(phrase) else DateIssue.UNRECOGNIZED
        return DateMention(text=text, unresolved=issue)
    start, end, granularity = window
    return DateMention(text=text, start=start, end=end, granularity=granularity)


Window = tuple[dt.date, dt.date, DateGranularity]


def _absolute(phrase: str, published: dt.date | None, tense: Tense) -> Window | None:
    if match := _ISO.match(phrase):
        day = _date(int(match[1]), int(match[2]), int(match[3]))
        return (day, day, DateGranularity.DAY) if day else None
    if match := _DAY_MONTH.match(phrase):
        return _days((match[3], match[1], match[2], match[4]), published, tense)
    if match := _MONTH_DAY.match(phrase):
        return _days((match[1], match[2], match[3], match[4]), published, tense)
    if match := _QUALIFIED_MONTH.match(phrase):
        qualifier = match[1].lower()
        if qualifier in {"last", "past"}:
            tense = Tense.PAST
        elif qualifier in {"next", "coming"}:
            tense = Tense.FUTURE
        phrase = match[2]
    if match := _MONTH_YEAR.match(phrase):
        month = _MONTHS[match[2].lower()]
        year = int(match[3]) if match[3] else _year_for(month, 1, published, tense)
        if year is None:
            return None
        last = calendar.monthrange(year, month)[1]
        part = (match[1] or "").lower()
        if part:
            lo, hi = {"early": (1, 10), "mid": (11, 20), "late": (21, last)}.get(part, (22, last))
            if part == "beginning of":
                lo, hi = 1, 10
            return dt.date(year, month, lo), dt.date(year, month, hi), DateGranularity.APPROXIMATE
        return dt.date(year, month, 1), dt.date(year, month, last), DateGranularity.MONTH
    if match := _YEAR_ONLY.match(phrase):
        year = int(match[2])
        part = (match[1] or "").lower()
        if part:
            lo, hi = {"early": (1, 4), "mid": (5, 8), "late": (9, 12)}[part]
            end = dt.date(year, hi, calendar.monthrange(year, hi)[1])
            return dt.date(year, lo, 1), end, DateGranularity.APPROXIMATE
        return dt.date(year, 1, 1), dt.date(year, 12, 31), DateGranularity.YEAR
    return None


def _days(
    written: tuple[str, str, str | None, str | None], published: dt.date | None, tense: Tense
) -> Window | None:
    """Days of a month: `written` is (month, first day, last day or None, year or None)."""
    month_name, first, last, year_text = written
    month = _MONTHS[month_name.lower()]
    year = int(year_text) if year_text else _year_for(month, int(first), published, tense)
    if year is None:
        return None
    start = _date(year, month, int(first))
    end = _date(year, month, int(last)) if last else start
    if start is None or end is None or end < start:
        return None
    return start, end, DateGranularity.RANGE if last else DateGranularity.DAY


def _year_for(month: int, day: int, published: dt.date | None, tense: Tense) -> int | None:
    """The year a month (and day) written without one falls in, seen from `published`."""
    if published is None:
        return None
    same = _date(published.year, month, day) or dt.date(published.year, month, 1)
    before = _date(published.year - 1, month, day) or dt.date(published.year - 1, month, 1)
    after = _date(published.year + 1, month, day) or dt.date(published.year + 1, month, 1)
    if tense is Tense.PAST:
        return same.year if same <= published or same.month == published.month else before.year
    if tense is Tense.FUTURE:
        return same.year if same >= published or same.month == published.month else after.year
    recent = [d for d in (before, same) if 0 <= (published - d).days <= RECENT_DAYS]
    if recent:
        return recent[-1].year
    return same.year if same >= published else after.year


def _between(
    text: str, first: str, last: str, published: dt.date | None, tense: Tense
) -> DateMention:
    """ "between March 31 and April 2": both ends resolved, the window from one to the other."""
    start, end = resolve(first, published, tense), resolve(last, published, tense)
    if start.start is None or end.end is None or end.end < start.start:
        issue = start.unresolved or end.unresolved or DateIssue.UNRECOGNIZED
        return DateMention(text=text, unresolved=issue)
    return DateMention(text=text, start=start.start, end=end.end, granularity=DateGranularity.RANGE)


def _relative(phrase: str, published: dt.date, tense: Tense) -> Window | None:
    lower = _POSSESSIVE.sub(r"\1", phrase.lower())
    if lower == "last night":
        lower = "yesterday"
    if lower in _NOW or _TIME_OF_DAY.match(lower):
        if lower == "week":
            return _unit("this", "week", published)
        return published, published, DateGranularity.DAY
    if lower in {"yesterday", "tomorrow"}:
        day = published + dt.timedelta(days=-1 if lower == "yesterday" else 1)
        return day, day, DateGranularity.DAY
    if match := _WEEKDAY.match(lower):
        return _weekday(_WEEKDAYS[match[2]], match[1], published, tense)
    if match := _RELATIVE_UNIT.match(lower):
        return _unit(match[1].lower(), match[2].lower(), published)
    if match := _AGO.match(lower):
        count = _NUMBERS.get(match[1]) or int(match[1])
        sign = 1 if match[3] in {"later", "from now"} else -1
        return _shifted(match[2], sign * count, published)
    if match := _COMING.match(lower):
        span = {"days": 7, "weeks": 28, "months": 120}[match[1]]
        return published, published + dt.timedelta(days=span), DateGranularity.APPROXIMATE
    if match := _WITHIN.match(lower):
        count = 3 if match[1] == "a few" else _NUMBERS.get(match[1]) or int(match[1])
        days = count * {"day": 1, "week": 7, "month": 30}[match[2]]
        return published, published + dt.timedelta(days=days), DateGranularity.APPROXIMATE
    return None


def _weekday(weekday: int, qualifier: str | None, published: dt.date, tense: Tense) -> Window:
    offset = weekday - published.weekday()
    qualifier = (qualifier or "").lower()
    if qualifier in {"next", "coming"}:
        tense = Tense.FUTURE
    elif qualifier in {"last", "past"}:
        tense = Tense.PAST
    past = published + dt.timedelta(days=offset - 7 if offset > 0 else offset)
    future = published + dt.timedelta(days=offset + 7 if offset < 0 else offset)
    if tense is Tense.PAST:
        day = past
    elif tense is Tense.FUTURE:
        day = future
    else:  # wire style: a bare weekday is within the week around publication
        day = past if (published - past).days <= (future - published).days else future
    return day, day, DateGranularity.DAY


def _unit(which: str, unit: str, published: dt.date) -> Window | None:
    step = {"next": 1, "the next": 1, "coming": 1, "the coming": 1, "last": -1, "the past": -1,
            "past": -1, "early next": 1, "late next": 1, "later next": 1, "late last": -1,
            "early last": -1}.get(which, 0)  # fmt: skip
    if unit in {"week", "weekend"}:
        monday = published - dt.timedelta(days=published.weekday()) + dt.timedelta(weeks=step)
        if unit == "weekend":
            return (
                monday + dt.timedelta(days=5),
                monday + dt.timedelta(days=6),
                DateGranularity.RANGE,
            )
        return monday, monday + dt.timedelta(days=6), DateGranularity.WEEK
    if unit == "month":
        year, month = divmod(published.year * 12 + published.month - 1 + step, 12)
        month += 1
        last = dt.date(year, month, calendar.monthrange(year, month)[1])
        start = dt.date(year, month, 1)
        if which == "later this":
            return max(start, published), last, DateGranularity.APPROXIMATE
        return start, last, DateGranularity.MONTH
    year = published.year + step
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    if which == "later this":
        return published, end, DateGranularity.APPROXIMATE
    if which == "earlier this":
        return start, published, DateGranularity.APPROXIMATE
    if which.startswith("early"):
        return start, dt.date(year, 4, 30), DateGranularity.APPROXIMATE
    if which.startswith("late"):
        return dt.date(year, 9, 1), end, DateGranularity.APPROXIMATE
    return start, end, DateGranularity.YEAR


def _shifted(unit: str, amount: int, published: dt.date) -> Window:
    if unit == "day":
        day = published + dt.timedelta(days=amount)
        return day, day, DateGranularity.DAY
    if unit == "week":
        monday = published - dt.timedelta(days=published.weekday()) + dt.timedelta(weeks=amount)
        return monday, monday + dt.timedelta(days=6), DateGranularity.WEEK
    if unit == "month":
        year, month = divmod(published.year * 12 + published.month - 1 + amount, 12)
        month += 1
        last = calendar.monthrange(year, month)[1]
        return dt.date(year, month, 1), dt.date(year, month, last), DateGranularity.MONTH
    year = published.year + amount
    return dt.date(year, 1, 1), dt.date(year, 12, 31), DateGranularity.YEAR


def _with_dateparser(phrase: str, published: dt.date | None) -> Window | None:
    if published is None and not re.search(r"\d{4}", phrase):
        return None  # without a year or an anchor, dateparser would guess from today's date
    stats.dateparser_calls += 1
    data = _parser(published).get_date_data(phrase)
    if data.date_obj is None:
        return None
    day = data.date_obj.date()
    match data.period:
        case "year":
            return dt.date(day.year, 1, 1), dt.date(day.year, 12, 31), DateGranularity.YEAR
        case "month":
            last = calendar.monthrange(day.year, day.month)[1]
            return day.replace(day=1), day.replace(day=last), DateGranularity.MONTH
        case "week":
            monday = day - dt.timedelta(days=day.weekday())
            return monday, monday + dt.timedelta(days=6), DateGranularity.WEEK
        case _:
            return day, day, DateGranularity.DAY


@lru_cache(maxsize=32)
def _parser(published: dt.date | None) -> DateDataParser:
    # Building a parser costs milliseconds; articles of one day share one.
    settings: dict[str, object] = {"PREFER_DAY_OF_MONTH": "first"}
    if published is not None:
        settings["RELATIVE_BASE"] = dt.datetime.combine(published, dt.time())
    return DateDataParser(languages=["en"], settings=settings)


def _is_relative(phrase: str) -> bool:
    lower = phrase.lower()
    return bool(
        _WEEKDAY.match(lower)
        or _RELATIVE_UNIT.match(lower)
        or _AGO.match(lower)
        or _COMING.match(lower)
        or _WITHIN.match(lower)
        or _TIME_OF_DAY.match(lower)
        or lower in _NOW | {"yesterday", "tomorrow"}
    )


def _names_a_month(phrase: str) -> bool:
    return any(word.lower().strip(".,") in _MONTHS for word in phrase.split())


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None
