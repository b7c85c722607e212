"""Actors as the records name them → one canonical actor per real one, with ISO country codes.

`Registry.add(actor)` files every mention of the article; `Registry.resolve()` then groups them:

- the same canonical name (case, punctuation and a leading "the" aside) is one actor;
- a country is one actor per ISO 3166 code, however written ("U.S.", "United States",
  "Washington" when the model names the state by its capital);
- a person named by surname alone ("Putin") joins the one person of the article whose full name
  ends so ("Vladimir Putin"), when exactly one does;
- a mention by role alone ("the Russian President") joins the one actor given that role.

Country codes come from a table of the names news writes (including states gone since 1987:
"West Germany" is DE, "Soviet Union" SU) and, past it, from pycountry's ISO 3166 data.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import pycountry

from attache.schemas import Actor, ActorKind, ActorMention, CanonicalActor

_NEWS_NAMES = {
    "us": "US", "u s": "US", "usa": "US", "united states": "US", "america": "US",
    "united states of america": "US", "washington": "US",
    "uk": "GB", "u k": "GB", "britain": "GB", "great britain": "GB", "united kingdom": "GB",
    "england": "GB", "london": "GB",
    "russia": "RU", "russian federation": "RU", "moscow": "RU", "kremlin": "RU",
    "soviet union": "SU", "ussr": "SU", "u s s r": "SU",
    "west germany": "DE", "germany": "DE", "federal republic of germany": "DE", "bonn": "DE",
    "berlin": "DE", "east germany": "DD",
    "france": "FR", "paris": "FR", "italy": "IT", "rome": "IT", "japan": "JP", "tokyo": "JP",
    "china": "CN", "beijing": "CN", "peking": "CN", "taiwan": "TW", "south korea": "KR",
    "north korea": "KP", "iran": "IR", "syria": "SY", "vietnam": "VN", "holland": "NL",
    "the netherlands": "NL", "netherlands": "NL", "ivory coast": "CI", "burma": "BU",
    "czechoslovakia": "CS", "yugoslavia": "YU", "zaire": "ZR", "venezuela": "VE",
    "bolivia": "BO", "tanzania": "TZ", "vatican": "VA", "holy see": "VA", "ukraine": "UA",
    "kyiv": "UA", "kiev": "UA", "gaza": "PS", "palestine": "PS", "canada": "CA",
    "ottawa": "CA", "brazil": "BR", "brasilia": "BR", "mexico": "MX", "argentina": "AR",
}  # fmt: skip
_HISTORIC = {c.alpha_2 for c in pycountry.historic_countries if hasattr(c, "alpha_2")}
_NON_WORD = re.compile(r"[^\w]+")


def country_code(name: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country written `name`, if it names one."""
    key = _key(name)
    if key in _NEWS_NAMES:
        return _NEWS_NAMES[key]
    return _iso_code(name.strip().lower())


@lru_cache(maxsize=1024)
def _iso_code(name: str) -> str | None:
    # pycountry scans every country's names for one its indexes miss: cache the answer.
    try:
        country = pycountry.countries.lookup(name)
    except LookupError:
        return None
    code: str = country.alpha_2
    return code


@lru_cache(maxsize=4096)
def written_country(written: str | None) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country as a record writes it: an alpha-2 code
    (current, or withdrawn since 1974), an alpha-3 code or a name, in any case."""
    if written is None:
        return None
    code = written.strip().upper()
    if code in _HISTORIC or pycountry.countries.get(alpha_2=code) is not None:
        return code
    return country_code(written)


# Names recur across an article's mentions and across articles: each is keyed once.
@lru_cache(maxsize=4096)
def _key(name: str) -> str:
    words = _NON_WORD.sub(" ", name.casefold()).split()
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words)


@dataclass
class _Group:
    mentions: list[Actor] = field(default_factory=list)
    country: str | None = None

    @property
    def kind(self) -> ActorKind:
        """The kind most mentions give, the first given on a tie."""
        kinds = [m.kind for m in self.mentions]
        return max(dict.fromkeys(kinds), key=kinds.count)

    @property
    def canonical_name(self) -> str:
        # A name beats a description ("Vladimir Putin" over "the Russian President"), then the
        # most used, then the longest ("Vladimir Putin" over "Putin").
        first = self.mentions[0].canonical_name
        if all(m.canonical_name == first for m in self.mentions):
            return first
        counts = Counter(m.canonical_name for m in self.mentions)
        roles = {_key(m.role) for m in self.mentions if m.role}

        def rank(name: str) -> tuple[bool, int, int]:
            described = _key(name) in roles or name.casefold().startswith("the ")
            return (not described, counts[name], len(name))

        return max(counts, key=rank)


class Registry:
    """Collects the actor mentions of one article, then resolves them to canonical actors."""

    def __init__(self) -> None:
        self._mentions: list[Actor] = []

    def add(self, actor: Actor) -> None:
        self._mentions.append(actor)

    def resolve(self) -> tuple[list[CanonicalActor], dict[int, ActorMention]]:
        """The canonical actors in order of first mention, and each mention (by `id()` of the
        `Actor` added) as an `ActorMention` tied to its actor."""
        groups: dict[str, _Group] = {}
        placed: dict[int, str] = {}
        for mention in self._mentions:
            key, country = self._place(mention)
            groups.setdefault(key, _Group(country=country)).mentions.append(mention)
            placed[id(mention)] = key
        self._join_surnames_and_roles(groups, placed)

        resolved: dict[str, CanonicalActor] = {}
        for key in dict.fromkeys(placed.values()):
            group = groups[key]
            resolved[key] = CanonicalActor(
                id=f"act-{len(resolved) + 1}",
                canonical_name=group.canonical_name,
                kind=group.kind,
                country=group.country,
                names=list(dict.fromkeys(m.name for m in group.mentions)),
                roles=list(dict.fromkeys(m.role for m in group.mentions if m.role)),
            )
        mentions = {
            id(mention): self._mention(mention, resolved[placed[id(mention)]])
            for mention in self._mentions
        }
        return list(resolved.values()), mentions

    @staticmethod
    def _place(mention: Actor) -> tuple[str, str | None]:
        if mention.kind is ActorKind.COUNTRY:
            code = country_code(mention.canonical_name) or country_code(mention.name)
            if code is not None:
                return f"country:{code}", code
        return f"{mention.kind.value}:{_key(mention.canonical_name)}", written_country(
            mention.country
        )

    @staticmethod
    def _join_surnames_and_roles(groups: dict[str, _Group], placed: dict[int, str]) -> None:
        persons = [k for k in groups if k.startswith("person:") and " " in k]
        roles: dict[str, list[str]] = {}
        for key, group in groups.items():
            for role in {_key(m.role) for m in group.mentions if m.role}:
                roles.setdefault(role, []).append(key)
        for key in list(groups):
            name = key.split(":", 1)[1]
            targets = [p for p in persons if p != key and p.endswith(" " + name)]
            if " " in name or len(targets) != 1:
                targets = [t for t in roles.get(name, []) if t != key]
            if len(targets) != 1 or key not in groups or targets[0] not in groups:
                continue
            target = targets[0]
            groups[target].mentions.extend(groups.pop(key).mentions)
            for mention_id, placed_key in placed.items():
                if placed_key == key:
                    placed[mention_id] = target

    @staticmethod
    def _mention(mention: Actor, actor: CanonicalActor) -> ActorMention:
        country = (
            actor.country if actor.kind is ActorKind.COUNTRY else written_country(mention.country)
        )
        return ActorMention(
            id=actor.id,
            name=mention.name,
            canonical_name=actor.canonical_name,
            kind=mention.kind,
            role=mention.role,
            country=country,
        )
