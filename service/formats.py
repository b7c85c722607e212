"""A response in the formats newsroom systems read: IPTC ninjs 3.1 and schema.org JSON-LD.

- `to_ninjs`: one ninjs item per record, `type: event`, linked to the source article by an
  association (`rel: source`). What ninjs has a place for goes there: a title, the parties as
  `people`, `organisations` and `places` (with their role in `rel`: inviter, participant,
  issuer...), the date window as `eventDetails.dates`, the record type and status as
  `subjects`. What it has no place for (the evidence spans, the record itself) goes in the
  extension property `attache`, declared by `NINJS_EXTENSION`: the official schema's
  `ninjsType` plus that property, as the ninjs guidelines prescribe for provider extensions;
  each item's `standard.schema` names it. Without `attache`, an item validates against the
  official ninjs 3.1 schema itself (tests/data/ninjs, tested).
- `to_jsonld`: a schema.org `NewsArticle` whose `about` lists one `Event` per record.

Media types for the HTTP API's `Accept` header are in `MEDIA_TYPES`.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from typing import Any

from attache.schemas import ActorKind, ActorMention, ExtractionRequest, ExtractionResponse, Record
from attache.schemas.records import RECORD_KINDS, Declaration, FundingAsk, Invitation, Meeting

__all__ = ["JSONLD", "MEDIA_TYPES", "NINJS", "NINJS_EXTENSION", "to_jsonld", "to_ninjs"]

NINJS = "application/ninjs+json"
JSONLD = "application/ld+json"
MEDIA_TYPES = (NINJS, JSONLD)

NINJS_VERSION = "3.1"
NINJS_SCHEMA = "http://www.iptc.org/std/ninjs/ninjs-schema_3.1.json"
NINJS_EXTENSION_ID = "urn:attache:schema:ninjs-extension:1"

_EVIDENCE = {
    "type": "object",
    "required": ["quote", "alignment"],
    "properties": {
        "quote": {"type": "string"},
        "start": {"type": ["integer", "null"], "minimum": 0},
        "end": {"type": ["integer", "null"], "minimum": 0},
        "alignment": {"enum": ["exact", "normalized", "fuzzy", "unaligned"]},
    },
    "additionalProperties": False,
}
NINJS_EXTENSION: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": NINJS_EXTENSION_ID,
    "title": "attache's extension of IPTC ninjs 3.1",
    "description": "Every ninjs 3.1 property, plus `attache`: the record an event item was made "
    "from, and the spans of the source article that support it.",
    "type": "object",
    "allOf": [{"$ref": f"{NINJS_SCHEMA}#/$defs/ninjsType"}],
    "properties": {
        "attache": {
            "type": "object",
            "required": ["recordType", "recordId", "evidence", "record"],
            "properties": {
                "recordType": {"enum": [kind.type.value for kind in RECORD_KINDS]},
                "recordId": {"type": "string"},
                "evidence": {"type": "array", "items": _EVIDENCE},
                "record": {"type": "object", "description": "The record as attache returns it."},
            },
            "additionalProperties": False,
        }
    },
    "required": ["uri"],
    "unevaluatedProperties": False,
}

# A record's parties, by field, as ninjs `rel` values.
_ROLES = {
    "inviters": "inviter", "invitees": "invitee", "participants": "participant",
    "host": "host", "issuers": "issuer", "requester": "requester", "addressees": "addressee",
}  # fmt: skip
_SCHEMA_ORG_STATUS = {
    "cancelled": "https://schema.org/EventCancelled",
    "planned": "https://schema.org/EventScheduled",
    "proposed": "https://schema.org/EventScheduled",
}


def article_uri(request: ExtractionRequest) -> str:
    """The source article's identifier: its URL, else a URN of its id, else of its text."""
    if request.url:
        return str(request.url)
    return f"urn:attache:article:{_article_key(request)}"


def _article_key(request: ExtractionRequest) -> str:
    if request.id:
        return urllib.parse.quote(request.id, safe="")
    return "sha256-" + hashlib.sha256(request.text.encode("utf-8")).hexdigest()[:32]


def to_ninjs(response: ExtractionResponse, request: ExtractionRequest) -> list[dict[str, Any]]:
    """One ninjs event item per record of `response`, `request` being its source article."""
    return [_ninjs_item(record, request) for record in response.records]


def _ninjs_item(record: Record, request: ExtractionRequest) -> dict[str, Any]:
    kind = record.record_type.value
    item: dict[str, Any] = {
        "standard": {"name": "ninjs", "version": NINJS_VERSION, "schema": NINJS_EXTENSION_ID},
        "uri": f"urn:attache:event:{_article_key(request)}:{record.id}",
        "type": "event",
        "title": title_of(record),
        "subjects": [
            {"name": kind.replace("_", " "), "rel": "recordType", "literal": kind},
            *(
                [{"name": status, "rel": "status", "literal": status}]
                if (status := _status(record))
                else []
            ),
        ],
        "associations": [
            {"name": "source article", "rel": "source", "uri": article_uri(request), "type": "text"}
        ],
    }
    if description := _description(record):
        item["descriptions"] = [{"role": "summary", "value": description}]
    people, organisations, places = _parties(record)
    if isinstance(record, Meeting) and record.place:
        places.append({"name": record.place, "rel": "venue"})
    item.update(
        {
            k: v
            for k, v in (("people", people), ("organisations", organisations), ("places", places))
            if v
        }
    )
    if record.date is not None and record.date.start is not None and record.date.end is not None:
        dates = {"expectedStartDate": record.date.start.isoformat()}
        if record.date.end != record.date.start:
            dates["expectedEndDate"] = record.date.end.isoformat()
        item["eventDetails"] = {"dates": dates}
    item["attache"] = {
        "recordType": kind,
        "recordId": record.id,
        "evidence": [e.model_dump(mode="json") for e in record.evidence],
        "record": record.model_dump(mode="json"),
    }
    return item


def _parties(
    record: Record,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    people: list[dict[str, Any]] = []
    organisations: list[dict[str, Any]] = []
    places: list[dict[str, Any]] = []
    for field, actor in _actors(record):
        entry: dict[str, Any] = {"name": actor.canonical_name, "rel": _ROLES[field]}
        if actor.kind is ActorKind.PERSON:
            people.append(entry)
        elif actor.kind is ActorKind.COUNTRY:
            places.append({**entry, **({"literal": actor.country} if actor.country else {})})
        else:
            organisations.append(entry)
    return people, organisations, places


def _actors(record: Record) -> list[tuple[str, ActorMention]]:
    found: list[tuple[str, ActorMention]] = []
    for field in type(record).key_actors:
        value = getattr(record, field)
        for actor in value if isinstance(value, list) else [value] if value else []:
            found.append((field, actor))
    return found


def _names(actors: list[ActorMention]) -> str:
    names = [a.canonical_name for a in actors]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def title_of(record: Record) -> str:
    """A one-line headline of the record, from its fields."""
    if isinstance(record, Invitation):
        return f"{_names(record.inviters)} invite(s) {_names(record.invitees)} to {record.target}"
    if isinstance(record, Meeting):
        where = f" in {record.place}" if record.place else ""
        return f"Meeting of {_names(record.participants)}{where}"
    if isinstance(record, Declaration):
        return (
            record.title
            or f"{record.kind.value.replace('_', ' ').capitalize()} by {_names(record.issuers)}"
        )
    assert isinstance(record, FundingAsk)  # noqa: S101 - the four types, exhaustively
    amount = record.amount.text if record.amount else "money"
    asked = f" of {_names(record.addressees)}" if record.addressees else ""
    return f"{record.requester.canonical_name} asks{asked} for {amount}"


def _status(record: Record) -> str | None:
    status = getattr(record, "status", None)
    return None if status is None else str(status.value)


def _description(record: Record) -> str | None:
    if isinstance(record, Declaration):
        return record.summary
    if isinstance(record, FundingAsk):
        return record.purpose
    if isinstance(record, Meeting) and record.topics:
        return "Topics: " + "; ".join(record.topics)
    return None


def to_jsonld(response: ExtractionResponse, request: ExtractionRequest) -> dict[str, Any]:
    """The source article as a schema.org `NewsArticle` about one `Event` per record."""
    article: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "@id": article_uri(request),
        "about": [_event(record, request) for record in response.records],
    }
    if request.id:
        article["identifier"] = request.id
    if request.url:
        article["url"] = str(request.url)
    if request.published_at is not None:
        article["datePublished"] = request.published_at.isoformat()
    return article


def _event(record: Record, request: ExtractionRequest) -> dict[str, Any]:
    event: dict[str, Any] = {
        "@type": "Event",
        "@id": f"urn:attache:event:{_article_key(request)}:{record.id}",
        "identifier": record.id,
        "name": title_of(record),
        "keywords": record.record_type.value,
    }
    if description := _description(record):
        event["description"] = description
    if (status := _status(record)) in _SCHEMA_ORG_STATUS:
        event["eventStatus"] = _SCHEMA_ORG_STATUS[status]
    if record.date is not None and record.date.start is not None and record.date.end is not None:
        event["startDate"] = record.date.start.isoformat()
        event["endDate"] = record.date.end.isoformat()
    if isinstance(record, Meeting) and record.place:
        event["location"] = {"@type": "Place", "name": record.place}
    organisers = {"inviters", "host", "requester"}
    for field, actor in _actors(record):
        slot = "organizer" if field in organisers else "attendee"
        event.setdefault(slot, []).append(_thing(actor))
    return event


def _thing(actor: ActorMention) -> dict[str, Any]:
    kind = {
        ActorKind.PERSON: "Person",
        ActorKind.COUNTRY: "Country",
        ActorKind.ORGANIZATION: "Organization",
    }.get(actor.kind, "Thing")
    thing: dict[str, Any] = {"@type": kind, "name": actor.canonical_name}
    if actor.role:
        thing["jobTitle" if kind == "Person" else "description"] = actor.role
    if actor.country and kind in {"Person", "Organization"}:
        thing["nationality" if kind == "Person" else "areaServed"] = {
            "@type": "Country",
            "identifier": actor.country,
        }
    return thing
