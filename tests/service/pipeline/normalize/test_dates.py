"""Dates in the corpus's styles, resolved against each article's publication date."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attache.pipeline.normalize.dates import Tense, resolve, stats
from attache.schemas import DateGranularity, DateIssue

D = dt.date
BOP = D(2026, 1, 20)  # the Board of Peace story: a Tuesday
WIRE = D(1987, 3, 16)  # a Reuters day: a Monday
P, F, N = Tense.PAST, Tense.FUTURE, Tense.NEAREST
DAY, WEEK, MONTH, YEAR = (
    DateGranularity.DAY, DateGranularity.WEEK, DateGranularity.MONTH, DateGranularity.YEAR,
)  # fmt: skip
RANGE, APPROX = DateGranularity.RANGE, DateGranularity.APPROXIMATE

TABLE = [
    # The Board of Peace story.
    ("on 20 January", BOP, F, D(2026, 1, 20), D(2026, 1, 20), DAY),
    ("this week", BOP, N, D(2026, 1, 19), D(2026, 1, 25), WEEK),
    ("in December", BOP, P, D(2025, 12, 1), D(2025, 12, 31), MONTH),
    ("the 6 January", BOP, P, D(2026, 1, 6), D(2026, 1, 6), DAY),
    ("next month", BOP, F, D(2026, 2, 1), D(2026, 2, 28), MONTH),
    ("on Tuesday", BOP, P, BOP, BOP, DAY),
    ("on Thursday", BOP, F, D(2026, 1, 22), D(2026, 1, 22), DAY),
    ("on Friday", BOP, P, D(2026, 1, 16), D(2026, 1, 16), DAY),
    ("March 15", BOP, F, D(2026, 3, 15), D(2026, 3, 15), DAY),
    ("later this year", BOP, F, BOP, D(2026, 12, 31), APPROX),
    # Reuters-21578 styles.
    ("today", WIRE, N, WIRE, WIRE, DAY),
    ("yesterday", WIRE, P, D(1987, 3, 15), D(1987, 3, 15), DAY),
    ("tomorrow", WIRE, F, D(1987, 3, 17), D(1987, 3, 17), DAY),
    ("last year", WIRE, P, D(1986, 1, 1), D(1986, 12, 31), YEAR),
    ("this year", WIRE, N, D(1987, 1, 1), D(1987, 12, 31), YEAR),
    ("last month", WIRE, P, D(1987, 2, 1), D(1987, 2, 28), MONTH),
    ("next week", WIRE, F, D(1987, 3, 23), D(1987, 3, 29), WEEK),
    ("last week", WIRE, P, D(1987, 3, 9), D(1987, 3, 15), WEEK),
    ("in February", WIRE, P, D(1987, 2, 1), D(1987, 2, 28), MONTH),
    ("April 8", WIRE, F, D(1987, 4, 8), D(1987, 4, 8), DAY),
    ("on March 20", WIRE, N, D(1987, 3, 20), D(1987, 3, 20), DAY),
    ("last September", WIRE, N, D(1986, 9, 1), D(1986, 9, 30), MONTH),
    ("next October", WIRE, N, D(1987, 10, 1), D(1987, 10, 31), MONTH),
    ("in October, 1985", WIRE, N, D(1985, 10, 1), D(1985, 10, 31), MONTH),
    ("on September 22, 1985", WIRE, P, D(1985, 9, 22), D(1985, 9, 22), DAY),
    ("late May", WIRE, F, D(1987, 5, 21), D(1987, 5, 31), APPROX),
    ("June 8-10", WIRE, F, D(1987, 6, 8), D(1987, 6, 10), RANGE),
    ("8 to 10 June", WIRE, F, D(1987, 6, 8), D(1987, 6, 10), RANGE),
    ("fiscal 1987", WIRE, N, D(1987, 1, 1), D(1987, 12, 31), YEAR),
    ("early next year", WIRE, F, D(1988, 1, 1), D(1988, 4, 30), APPROX),
    ("two weeks ago", WIRE, P, D(1987, 3, 2), D(1987, 3, 8), WEEK),
    ("this weekend", WIRE, F, D(1987, 3, 21), D(1987, 3, 22), RANGE),
    ("the coming weeks", WIRE, F, WIRE, D(1987, 4, 13), APPROX),
    ("early yesterday", WIRE, P, D(1987, 3, 15), D(1987, 3, 15), DAY),
    ("later today", WIRE, F, WIRE, WIRE, DAY),
    ("in the early hours of this morning", WIRE, P, WIRE, WIRE, DAY),
    ("around 3 p.m. local time", WIRE, N, WIRE, WIRE, DAY),
    ("currently", WIRE, N, WIRE, WIRE, DAY),
    ("within two weeks", WIRE, F, WIRE, D(1987, 3, 30), APPROX),
    ("April-5-6", WIRE, F, D(1987, 4, 5), D(1987, 4, 6), RANGE),
    ("last night", WIRE, P, D(1987, 3, 15), D(1987, 3, 15), DAY),
    ("today's", WIRE, N, WIRE, WIRE, DAY),
    ("tonight\u2019s", WIRE, N, WIRE, WIRE, DAY),
    ("yesterday's", WIRE, P, D(1987, 3, 15), D(1987, 3, 15), DAY),
    ("tomorrow's", WIRE, F, D(1987, 3, 17), D(1987, 3, 17), DAY),
    ("between March 31 and April 2", WIRE, F, D(1987, 3, 31), D(1987, 4, 2), RANGE),
    ("October 16", D(1987, 4, 2), N, D(1987, 10, 16), D(1987, 10, 16), DAY),  # far back: ahead
    ("In February", D(1987, 3, 26), N, D(1987, 2, 1), D(1987, 2, 28), MONTH),  # recent: past
    ("1987-03-16", None, N, WIRE, WIRE, DAY),
    ("March 15, 1987", None, N, D(1987, 3, 15), D(1987, 3, 15), DAY),
]


@pytest.mark.parametrize(
    ("text", "published", "tense", "start", "end", "granularity"),
    TABLE,
    ids=[f"{row[0]} @ {row[1]}" for row in TABLE],
)
def test_dates_resolve_to_their_window(
    text: str,
    published: dt.date | None,
    tense: Tense,
    start: dt.date,
    end: dt.date,
    granularity: DateGranularity,
) -> None:
    mention = resolve(text, published, tense)
    assert (mention.start, mention.end, mention.granularity) == (start, end, granularity)
    assert mention.text == text


def test_a_month_without_a_year_follows_the_record_tense() -> None:
    # Published in January: "in December" that was held is last December, a planned one next.
    assert resolve("in December", BOP, P).start == D(2025, 12, 1)
    assert resolve("in December", BOP, F).start == D(2026, 12, 1)
    assert resolve("in December", BOP, N).start == D(2025, 12, 1)


@pytest.mark.parametrize(
    ("text", "issue"),
    [
        ("this week", DateIssue.NO_PUBLICATION_DATE),
        ("on Tuesday", DateIssue.NO_PUBLICATION_DATE),
        ("next month", DateIssue.NO_PUBLICATION_DATE),
        ("on 20 January", DateIssue.YEAR_UNKNOWN),
        ("in December", DateIssue.YEAR_UNKNOWN),
        ("soon", DateIssue.UNRECOGNIZED),
    ],
)
def test_without_a_publication_date_says_what_is_missing(text: str, issue: DateIssue) -> None:
    mention = resolve(text, None)
    assert mention.start is None
    assert mention.unresolved is issue


def test_the_rules_resolve_every_form_above_without_dateparser() -> None:
    before = stats.dateparser_calls
    for text, published, tense, *_ in TABLE:
        resolve(text, published, tense)
    assert stats.dateparser_calls == before


def test_dateparser_runs_where_every_rule_fails_and_is_counted() -> None:
    before = stats.dateparser_calls
    mention = resolve("1/15/1987", WIRE, N)
    assert (mention.start, mention.granularity) == (D(1987, 1, 15), DAY)
    assert stats.dateparser_calls == before + 1


@given(
    published=st.dates(min_value=D(1950, 1, 1), max_value=D(2090, 12, 31)),
    text=st.sampled_from([row[0] for row in TABLE] + ["soon", "in due course", "Q3"]),
    tense=st.sampled_from(list(Tense)),
)
def test_any_resolution_is_a_valid_window(published: dt.date, text: str, tense: Tense) -> None:
    mention = resolve(text, published, tense)
    if mention.start is not None and mention.end is not None:
        assert mention.start <= mention.end
        if not any(char.isdigit() for char in text):  # relative: near publication
            assert abs((mention.start - published).days) <= 2 * 366
