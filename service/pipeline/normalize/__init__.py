"""The normalize stage: merged drafts → API records with values machines can compare.

records.py  the stage's entry point, `normalize()`: drafts in, records and actors out
actors.py   one canonical actor per real one, with ISO 3166 country codes
dates.py    dates as written → a window of days, resolved against publication
money.py    amounts as written → a value and an ISO 4217 currency
"""
