"""Amounts in the corpus's styles and today's."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attache.pipeline.normalize.money import currency_code, parse
from attache.pipeline.normalize.records import normalize_money
from attache.schemas import Money

TABLE = [
    ("USD1 billion", 1e9, "USD"),
    ("$5m", 5e6, "USD"),
    ("US$ 2.5 billion", 2.5e9, "USD"),
    ("25 mln stg", 25e6, "GBP"),
    ("900 mln dlrs", 900e6, "USD"),
    ("3.15 billion dlrs", 3.15e9, "USD"),
    ("100 billion yen", 100e9, "JPY"),
    ("6,000 billion yen", 6e12, "JPY"),
    ("1.5 billion marks", 1.5e9, "DEM"),
    ("300 mln Canadian dlrs", 300e6, "CAD"),
    ("5 million Swiss francs", 5e6, "CHF"),
    ("200 mln ECUs", 200e6, "XEU"),
    ("800 mln SDRs", 800e6, "XDR"),
    ("two billion dollars", 2e9, "USD"),
    ("1,500 dlrs", 1500, "USD"),
    ("£3.2bn", 3.2e9, "GBP"),
    ("€40 million", 40e6, "EUR"),
    ("EUR 40 million", 40e6, "EUR"),
    ("a contribution of USD1 billion", 1e9, "USD"),
    ("it was 5 billion dlrs", 5e9, "USD"),
    ("50 mln francs", 50e6, None),  # French? Swiss? Belgian? Not guessed.
]


@pytest.mark.parametrize(("text", "value", "currency"), TABLE, ids=[t[0] for t in TABLE])
def test_amounts_parse_to_value_and_iso_currency(
    text: str, value: float, currency: str | None
) -> None:
    parsed = parse(text)
    assert parsed is not None
    assert parsed[0] == pytest.approx(value)
    assert parsed[1] == currency


@pytest.mark.parametrize("text", ["10 pct", "the money", "a large sum", "in 1987"])
def test_text_without_an_amount_parses_to_nothing(text: str) -> None:
    assert parse(text) is None


def test_parsed_text_overrides_the_models_reading() -> None:
    model = Money(text="900 mln dlrs", value=900, currency="USD")
    assert normalize_money(model) == Money(text="900 mln dlrs", value=900e6, currency="USD")


def test_unparsed_text_keeps_the_models_value_with_a_checked_currency() -> None:
    kept = normalize_money(Money(text="the fee", value=12.0, currency="ZZZ"))
    assert (kept.value, kept.currency) == (12.0, None)
    assert normalize_money(Money(text="the fee", value=1.0, currency="CHF")).currency == "CHF"


def test_currency_codes_are_checked_against_iso_4217() -> None:
    assert currency_code("usd") == "USD"
    assert currency_code("DEM") == "DEM"  # withdrawn, still the code of a 1987 amount
    assert currency_code("ABC") is None


@given(value=st.integers(1, 999_999), scale=st.sampled_from(["mln", "billion", "bln", ""]))
def test_any_wire_amount_in_dollars_parses(value: int, scale: str) -> None:
    text = f"{value:,} {scale} dlrs".replace("  ", " ")
    factor = {"mln": 1e6, "billion": 1e9, "bln": 1e9, "": 1}[scale]
    parsed = parse(text)
    assert parsed is not None
    assert parsed[0] == pytest.approx(value * factor)
    assert parsed[1] == "USD"
