"""Amounts as written → a number and an ISO 4217 currency.

`parse("900 mln dlrs")` gives `(900_000_000, "USD")`. It reads the styles of the corpus and of
today's wires: a currency sign, code or word before or after the figure ("USD1 billion", "$5m",
"25 mln stg", "3.15 billion dlrs", "100 billion yen", "£3.2bn", "5 million Swiss francs"), with
scale words (k, thousand, m, mln, million, bn, bln, billion, trillion). Currencies of 1987 wires
keep their own codes (DEM, FRF, ITL): an amount is normalized, not converted.

A currency word that names no single currency ("francs", "pesos" with no country) gives a value
with no currency rather than a guess. Codes written as such are checked against ISO 4217
(pycountry).
"""

from __future__ import annotations

import re

import pycountry

_SCALES = {
    "k": 1e3, "thousand": 1e3,
    "m": 1e6, "mn": 1e6, "mln": 1e6, "million": 1e6, "millions": 1e6,
    "b": 1e9, "bn": 1e9, "bln": 1e9, "billion": 1e9, "billions": 1e9,
    "tn": 1e12, "trn": 1e12, "tln": 1e12, "trillion": 1e12,
}  # fmt: skip
_WORD_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twenty": 20, "fifty": 50, "hundred": 100,
}  # fmt: skip

# Currency words and signs, longest first when matched. None: names no single currency.
_CURRENCIES: dict[str, str | None] = {
    "us dollars": "USD", "u.s. dollars": "USD", "u.s. dlrs": "USD", "us dlrs": "USD",
    "canadian dollars": "CAD", "canadian dlrs": "CAD", "australian dollars": "AUD",
    "australian dlrs": "AUD", "hong kong dollars": "HKD", "hong kong dlrs": "HKD",
    "new zealand dollars": "NZD", "new zealand dlrs": "NZD", "singapore dollars": "SGD",
    "singapore dlrs": "SGD", "taiwan dollars": "TWD", "taiwan dlrs": "TWD",
    "dollars": "USD", "dollar": "USD", "dlrs": "USD", "dlr": "USD",
    "swiss francs": "CHF", "french francs": "FRF", "belgian francs": "BEF",
    "luxembourg francs": "LUF", "cfa francs": "XAF", "francs": None, "franc": None,
    "sterling": "GBP", "stg": "GBP", "pounds sterling": "GBP", "pounds": "GBP",
    "yen": "JPY", "yuan": "CNY", "renminbi": "CNY",
    "marks": "DEM", "mark": "DEM", "deutsche marks": "DEM", "d-marks": "DEM", "dm": "DEM",
    "lire": "ITL", "lira": "ITL", "guilders": "NLG", "guilder": "NLG",
    "pesetas": "ESP", "peseta": "ESP", "escudos": "PTE", "schillings": "ATS",
    "crowns": None, "kroner": None, "kronor": "SEK", "rand": "ZAR", "riyals": "SAR",
    "mexican pesos": "MXN", "philippine pesos": "PHP", "argentine pesos": "ARS", "pesos": None,
    "australs": "ARA", "cruzados": "BRC", "rupees": None, "rupiah": "IDR", "won": "KRW",
    "ringgit": "MYR", "baht": "THB", "euros": "EUR", "euro": "EUR",
    "ecus": "XEU", "ecu": "XEU", "sdrs": "XDR", "sdr": "XDR", "special drawing rights": "XDR",
    "us$": "USD", "u.s.$": "USD", "c$": "CAD", "a$": "AUD", "hk$": "HKD", "nz$": "NZD",
    "$": "USD", "£": "GBP", "¥": "JPY", "€": "EUR",
}  # fmt: skip

_CODES = frozenset(code for code in _CURRENCIES.values() if code is not None)

_NUMBER = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|" + "|".join(_WORD_NUMBERS) + r")"
_SCALE = r"(?:\s*-?\s*(" + "|".join(sorted(_SCALES, key=len, reverse=True)) + r")\b)?"
_SYMBOLS = sorted((k for k in _CURRENCIES if not k[0].isalpha()), key=len, reverse=True)
_WORDS = sorted((k for k in _CURRENCIES if k[0].isalpha()), key=len, reverse=True)
_PREFIX = r"(" + "|".join(re.escape(s) for s in _SYMBOLS) + r"|[A-Z]{3}(?=\s?\d))"
_SUFFIX = r"(" + "|".join(re.escape(w) for w in _WORDS) + r"|[A-Z]{3})\b"

_BEFORE = re.compile(rf"{_PREFIX}\s?{_NUMBER}{_SCALE}", re.IGNORECASE)
_AFTER = re.compile(rf"{_NUMBER}{_SCALE}\s+(?:of\s+)?{_SUFFIX}", re.IGNORECASE)


def parse(text: str) -> tuple[float, str | None] | None:
    """The first amount and currency `text` states, or None when it states no amount."""
    found = [(m, 1, 2) for m in _BEFORE.finditer(text)] + [(m, 3, 1) for m in _AFTER.finditer(text)]
    for match, currency_group, number_group in sorted(found, key=lambda f: f[0].start()):
        is_money, currency = _currency(match[currency_group])
        if not is_money:
            continue
        scale = _SCALES.get((match[number_group + 1] or "").lower(), 1)
        return _number(match[number_group]) * scale, currency
    return None


def currency_code(code: str) -> str | None:
    """`code` if it is an ISO 4217 code, current or historic, else None."""
    upper = code.upper()
    if upper in _CODES or pycountry.currencies.get(alpha_3=upper) is not None:
        return upper
    return None


def _currency(written: str) -> tuple[bool, str | None]:
    """Whether `written` is a currency at all, and its ISO code when it names a single one."""
    lower = written.lower()
    if lower in _CURRENCIES:
        return True, _CURRENCIES[lower]
    code = currency_code(written) if len(written) == 3 and written.isupper() else None
    return code is not None, code


def _number(written: str) -> float:
    lower = written.lower()
    if lower in _WORD_NUMBERS:
        return float(_WORD_NUMBERS[lower])
    return float(written.replace(",", ""))
