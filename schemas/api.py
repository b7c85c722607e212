"""Request and response bodies of `POST /v1/extractions` (and of the Python API)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    StringConstraints,
    field_validator,
)

from attache.schemas.common import CanonicalActor, CurrencyCode, Frozen, RecordId, RecordType
from attache.schemas.records import ByType, Declaration, FundingAsk, Invitation, Meeting

EARLIEST_PUBLICATION = 1800
LATEST_PUBLICATION = 2200

# Regex classes (Python and ECMA-262 alike) of what an article may not be made of.
CONTROL_CHARACTERS = r"\x00-\x08\x0e-\x1f\x7f-\x9f"
"""C0 and C1 controls but tab, line feed, vertical tab, form feed and carriage return: what a
scraper leaves when it hands over binary data or mis-decoded bytes."""
INVISIBLE_CHARACTERS = r"\s\u200b\u200c\u200d\u2060\ufeff"
"""Characters that take no room on the page: an article of nothing else is empty."""
ARTICLE_TEXT_PATTERN = (
    f"^[^{CONTROL_CHARACTERS}]*[^{INVISIBLE_CHARACTERS}{CONTROL_CHARACTERS}]"
    f"[^{CONTROL_CHARACTERS}]*$"
)
"""What the service accepts as article text, stated in the OpenAPI document; the pipeline
checks it itself, so a refusal names the precise problem (empty-article, invalid-characters)."""
_YEARS = r"^(1[89]\d\d|2[01]\d\d)-"

PublicationTime = Annotated[dt.date | dt.datetime, Field(union_mode="left_to_right")]
"""A date stays a date ("2026-01-20" is not midnight), a date-time a date-time."""

ArticleId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# A plain pattern, not AnyHttpUrl: the URL comes back exactly as sent. Litestar's OpenAPI
# generator drops a pattern inside an optional type; fields repeat it with json_schema_extra.
URL_PATTERN = r"^https?://[^\s/$.?#][^\s]*$"
ArticleUrl = Annotated[
    str,
    Field(
        pattern=URL_PATTERN,
        max_length=2083,
        description="The article's address, http or https.",
    ),
]


class ExtractionRequest(Frozen):
    """One article to extract from."""

    text: str = Field(
        min_length=1,
        json_schema_extra={"pattern": ARTICLE_TEXT_PATTERN},
        description="The article body, unchanged; it must hold visible text (a blank one is "
        "refused as empty-article). Evidence offsets index this exact string.",
    )
    id: ArticleId | None = Field(default=None, description="Your id for the article; echoed.")
    url: ArticleUrl | None = Field(default=None, json_schema_extra={"pattern": URL_PATTERN})
    published_at: PublicationTime | None = Field(
        default=None,
        description="Publication time, ISO 8601 (a date or a date-time), between 1800 and "
        "2200; relative dates are resolved against it.",
        json_schema_extra={"pattern": _YEARS},
    )
    types: Annotated[frozenset[RecordType], Field(min_length=1)] = Field(
        default=frozenset(RecordType), description="Which record types to extract (default all)."
    )

    @field_validator("types", mode="before")
    @classmethod
    def _each_type_once(cls, value: object) -> object:
        if isinstance(value, list | tuple) and len(set(map(str, value))) != len(value):
            raise ValueError("types must not repeat a record type")
        return value

    @field_validator("published_at", mode="before")
    @classmethod
    def _not_a_number(cls, value: object) -> object:
        # pydantic would read a number as a Unix timestamp: 20260120 is not a date anyone meant.
        if isinstance(value, int | float):
            raise ValueError(  # noqa: TRY004 - pydantic reports ValueError, not TypeError
                "published_at must be an ISO 8601 date or date-time string"
            )
        return value

    @field_validator("published_at")
    @classmethod
    def _plausible(cls, value: dt.datetime | dt.date | None) -> dt.datetime | dt.date | None:
        if value is not None and not EARLIEST_PUBLICATION <= value.year < LATEST_PUBLICATION:
            raise ValueError(
                f"published_at must fall between {EARLIEST_PUBLICATION} and {LATEST_PUBLICATION}"
            )
        return value


class TokenUsage(Frozen):
    """Tokens summed over every upstream completion of the request, re-asks included."""

    prompt_tokens: NonNegativeInt = 0
    completion_tokens: NonNegativeInt = 0
    total_tokens: NonNegativeInt = 0
    completions: NonNegativeInt = Field(
        default=0, description="Completions received (one per model answer, re-asks included)."
    )
    upstream_calls: NonNegativeInt = Field(
        default=0, description="HTTP requests sent upstream, SDK retries included."
    )
    reasks: NonNegativeInt = Field(
        default=0,
        description="Answers sent back to the model: invalid, or quoting text not in the article.",
    )


class Timings(Frozen):
    total_ms: NonNegativeFloat
    model_ms: NonNegativeFloat = Field(description="Time spent waiting on the model.")


class WarningCode(StrEnum):
    EVIDENCE_UNALIGNED = "evidence_unaligned"
    """A quote was not found in the article; kept, flagged, as ATTACHE_KEEP_UNGROUNDED asks."""
    EVIDENCE_DROPPED = "evidence_dropped"
    """Quotes not found in the article were dropped; the record stands on the others."""
    RECORD_DROPPED = "record_dropped"
    """None of a record's quotes were found in the article, after re-asking; it was dropped."""
    LINK_DROPPED = "link_dropped"
    """A link pointed at a record that does not exist or was filtered out."""
    ARTICLE_CHUNKED = "article_chunked"
    """The article was longer than one model call takes and was split."""
    DUPLICATE_MERGED = "duplicate_merged"
    """Two chunks reported the same record; one copy was kept."""
    RECORD_INVALID = "record_invalid"
    """A record in the model's last answer (re-asks spent) broke the schema and was left out;
    the message gives its path and the reason. The other records of that answer are kept."""
    ANSWER_TRUNCATED = "answer_truncated"
    """The model's answer was cut at the output token limit: the records complete before the cut
    are kept, any after it are missing."""
    EVIDENCE_IN_SUSPECTED_INJECTION = "evidence_in_suspected_injection"
    """Every quote of a record lies in a `suspected_injections` passage: the record may come from
    instructions planted in the article. Flagged with its `record_id`; with
    ATTACHE_INJECTION_POLICY=drop, the record was dropped instead (no `record_id`)."""


class ExtractionWarning(Frozen):
    code: WarningCode
    message: str
    record_id: RecordId | None = None


class InjectionRule(StrEnum):
    """A kind of instruction-like passage (`attache.pipeline.injection` holds the patterns)."""

    ADDRESSED_TO_MACHINE = "addressed_to_machine"
    """Speaks to an AI, assistant, language model or extraction tool ("Note to the AI ...")."""
    OVERRIDE_INSTRUCTIONS = "override_instructions"
    """Asks to ignore, forget or replace the reader's instructions or rules, or brings new ones."""
    REQUESTS_RECORDS = "requests_records"
    """Orders records or quotes added, reported, output or invented ("invent quotes")."""
    PROMPT_MARKER = "prompt_marker"
    """A chat-template or system-prompt marker: `SYSTEM:`, `### Instruction`, `[INST]`,
    `<|im_start|>`, `<<SYS>>`."""
    ROLE_TAG = "role_tag"
    """A chat role tag (`Assistant:`, `User:`), a closing article tag or a fake fence."""


class SuspectedInjection(Frozen):
    """A passage of the article that reads like instructions to a model rather than news.

    `start` and `end` index the submitted text as evidence spans do (end exclusive).
    """

    start: NonNegativeInt
    end: NonNegativeInt
    rules: list[InjectionRule] = Field(min_length=1, description="The rules that fired in it.")


class Cast(Frozen):
    """Who the records name: the head of a response, and of an eval fixture's gold."""

    actors: list[CanonicalActor] = Field(
        default_factory=list,
        description="Every actor the records name, once each; record actors point here by id.",
    )


class Cost(Frozen):
    """What a response's model calls cost, by the operator's price table (`ATTACHE_PRICES`)."""

    amount: NonNegativeFloat
    currency: CurrencyCode


class CacheInfo(Frozen):
    """Where an answer came from, when the result cache is on (docs/operations.md)."""

    hit: bool = Field(
        description="True: answered from the cache, or by an identical request's model call "
        "in flight; no model call was made for this request and its usage is zero."
    )
    key: str = Field(description="SHA-256 of everything that decides the answer.")
    stored_at: dt.datetime = Field(description="When the answer was computed and stored.")


class _Identified(Frozen):
    id: ArticleId | None = None


# Base order sets the JSON field order: id, actors, the four record lists, then the rest.
class ExtractionResponse(ByType[Invitation, Meeting, Declaration, FundingAsk], Cast, _Identified):
    """The records found in one article, by type, with how they were produced."""

    model: str
    prompt_version: str
    usage: TokenUsage
    suspected_injections: list[SuspectedInjection] = Field(
        default_factory=list,
        description="Passages of the article that read like instructions to a model (suspected "
        "prompt injection), found without the model; see docs/operations.md.",
    )
    warnings: list[ExtractionWarning] = Field(default_factory=list)
    timings: Timings
    cache: CacheInfo | None = Field(
        default=None, description="Set when the result cache is on: hit or not, and the key."
    )
    cost: Cost | None = Field(
        default=None,
        description="The usage priced by ATTACHE_PRICES, when it lists the model; 0 for an "
        "answer from the cache.",
    )


class Problem(BaseModel):
    """An RFC 9457 problem: every error attache answers is one of these."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Stable URN, `urn:attache:problem:<slug>`; see docs/errors.md.")
    title: str
    status: int
    detail: str | None = None


class Health(Frozen):
    status: Literal["ok"] = "ok"


class Readiness(Frozen):
    status: Literal["ready"] = "ready"
    model: str
    mode: str
    prompt_version: str
