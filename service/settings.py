"""Every setting attache reads, split by concern, all from `ATTACHE_*` environment variables.

- `Settings`: what one extraction needs (the model endpoint, the mode, the limits of one
  article). The Python API and `Extractor` take only these.
- `ServerSettings`: what the HTTP server adds (bind address, API keys, rate limits, body size,
  admission, logging, the review store's database).

Library use reads the environment only: a stray `.env` in the caller's working directory is
never read. The `attache` command (and so the server it runs) also reads `.env` from its
working directory (`from_env_file()`). The README's configuration tables list every field;
`tests/service/test_settings.py` keeps them in step.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from attache import prompts


class ModelMode(StrEnum):
    """How the JSON answer is requested from the model (instructor's mode)."""

    TOOLS = "tools"
    """A forced function call (`tools` + `tool_choice`)."""
    JSON_SCHEMA = "json_schema"
    """`response_format: {type: json_schema}` (structured outputs)."""
    JSON = "json"
    """`response_format: {type: json_object}`, the schema given in the system message."""
    MD_JSON = "md_json"
    """JSON in a fenced block of a plain answer, for servers with no structured mode."""


class TokenLimitParam(StrEnum):
    """The request field that caps completion length; servers disagree on its name."""

    MAX_TOKENS = "max_tokens"
    MAX_COMPLETION_TOKENS = "max_completion_tokens"


class Passes(StrEnum):
    """How many model calls read one chunk: one for every type, one per pair of types, or one
    per type. A call is given only its types' schema, for models served with a small prompt
    budget; links between records of types in different calls are lost (a call sees only its
    own records)."""

    ONE = "one"
    """One call answers every type the request asks for."""
    PAIRS = "pairs"
    """Two types a call, in the order of `RECORD_KINDS`: invitations with meetings, declarations
    with funding asks. About half the schema tokens before the article."""
    PER_TYPE = "per-type"
    """One call per type asked for: about a third of the schema tokens before the article."""

    @property
    def types_a_call(self) -> int | None:
        """How many types one call reads; None for every type."""
        return {Passes.ONE: None, Passes.PAIRS: 2, Passes.PER_TYPE: 1}[self]


class InjectionPolicy(StrEnum):
    """What happens to a record whose every quote lies in a suspected prompt injection."""

    FLAG = "flag"
    """Keep it, with an `evidence_in_suspected_injection` warning naming it."""
    DROP = "drop"
    """Leave it out, with an `evidence_in_suspected_injection` warning saying so."""


ENV_FILE = ".env"


class _FromEnvironment(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ATTACHE_",
        env_file=None,
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    @classmethod
    def from_env_file(cls, path: str = ENV_FILE, **values: Any) -> Self:
        """The environment, then the file at `path` if it exists: the command line's way."""
        return cls(_env_file=path, **values)


class Price(BaseModel):
    """A model's price per million tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_million: NonNegativeFloat
    output_per_million: NonNegativeFloat
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"

    def of(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million
        ) / 1_000_000


class Settings(_FromEnvironment):
    """What one extraction needs: the model endpoint and mode, and the limits of one article."""

    base_url: AnyHttpUrl | None = Field(
        default=None,
        description="OpenAI-compatible API root, e.g. http://localhost:11434/v1. "
        "Unset means api.openai.com.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="Bearer key for the upstream. Local servers may need none."
    )
    model: Annotated[str, Field(min_length=1)] | None = Field(
        default=None, description="Model name sent upstream. Unset: extraction answers 503."
    )
    mode: ModelMode = Field(
        default=ModelMode.TOOLS, description="tools, json_schema, json or md_json (see README)."
    )
    temperature: Annotated[float, Field(ge=0, le=2)] = Field(
        default=0.0, description="Sampling temperature."
    )
    max_output_tokens: PositiveInt = Field(
        default=4096, description="Completion token cap per model call."
    )
    token_limit_param: TokenLimitParam = Field(
        default=TokenLimitParam.MAX_TOKENS,
        description="Field that carries max_output_tokens; OpenAI's reasoning models need "
        "max_completion_tokens.",
    )
    reasks: Annotated[int, Field(ge=0, le=5)] = Field(
        default=1, description="Re-asks after an answer that fails validation (instructor)."
    )
    reask_temperature: Annotated[float, Field(ge=0, le=2)] = Field(
        default=0.4,
        description="Sampling temperature of a re-ask: above 0, so that a model asked the same "
        "again can answer differently.",
    )
    prices: dict[str, Price] = Field(
        default_factory=dict,
        description='Price per million tokens by model name, as JSON: {"gpt-4o-mini": '
        '{"input_per_million": 0.15, "output_per_million": 0.6, "currency": "USD"}}. '
        "A response of a model listed carries its cost.",
    )
    cache_url: str = Field(
        default="file:~/.cache/attache/results",
        description="Result cache: file:FOLDER (the default, on disk), redis://HOST:PORT/DB or "
        "valkey://... (shared by replicas), memory: (one process) or off.",
    )
    cache_ttl_s: PositiveInt = Field(
        default=7 * 24 * 3600, description="How long a cached answer is kept, in seconds."
    )
    salvage: bool = Field(
        default=True,
        description="When the model's last answer still fails validation (re-asks spent) or is "
        "cut at the output token limit, keep its records that validate and drop the rest, "
        "with warnings; off: the article fails (502).",
    )
    keep_ungrounded: bool = Field(
        default=False,
        description="Keep evidence (and records) not found in the article, flagged, "
        "instead of dropping them.",
    )
    injection_policy: InjectionPolicy = Field(
        default=InjectionPolicy.FLAG,
        description="flag or drop: what to do with a record whose every quote lies in a "
        "passage that reads like instructions to a model (suspected prompt injection).",
    )
    upstream_retries: Annotated[int, Field(ge=0, le=5)] = Field(
        default=2,
        description="SDK retries of one call on 408/409/429/5xx and transport errors.",
    )
    upstream_timeout_s: PositiveFloat = Field(
        default=60.0, description="Timeout of one upstream HTTP request, in seconds."
    )
    deadline_s: PositiveFloat = Field(
        default=120.0, description="Cap on one whole extraction, retries included; then 504."
    )
    rate_limited_retry_after_s: PositiveInt = Field(
        default=30,
        description="Retry-After sent with 503 when the upstream rate-limits without one.",
    )
    max_article_chars: PositiveInt = Field(
        default=200_000, description="Longest article accepted, in characters; longer gets 413."
    )
    chunk_chars: Annotated[int, Field(ge=1000)] = Field(
        default=16_000, description="Article characters sent in one model call."
    )
    chunk_overlap_chars: Annotated[int, Field(ge=0)] = Field(
        default=1_000, description="Characters shared by consecutive chunks."
    )
    chunk_concurrency: PositiveInt = Field(
        default=2, description="Model calls of one article sent at once (chunks, and passes)."
    )
    passes: Passes = Field(
        default=Passes.ONE,
        description="one (one call a chunk for every type) or per-type (one call a chunk per "
        "type asked for, each with that type's schema only; no links across types).",
    )
    prompt_version: str = Field(default=prompts.LATEST, description="Prompt template version.")
    token_budget: PositiveInt = Field(
        default=400_000,
        description="Most tokens one extraction may be expected to use (prompt estimated at "
        "4 characters a token, plus the output cap, per call); more gets 413.",
    )

    @field_validator("prompt_version")
    @classmethod
    def _prompt_exists(cls, version: str) -> str:
        prompts.load(version)
        return version

    @model_validator(mode="after")
    def _overlap_fits(self) -> Self:
        if self.chunk_overlap_chars * 2 >= self.chunk_chars:
            raise ValueError("chunk_overlap_chars must be under half of chunk_chars")
        return self

    @property
    def model_configured(self) -> bool:
        """True when a model is named and there is somewhere to send it."""
        return self.model is not None and (self.base_url is not None or self.api_key is not None)


DEFAULT_DATABASE_URL = "sqlite:///~/.local/share/attache/review.db"
MIN_API_KEY_CHARS = 16
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


class ServerSettings(_FromEnvironment):
    """What the HTTP server adds: where it listens, who may call it, how much it takes.

    Fails closed: a key setting that holds no key, a short key, or a non-loopback bind address
    with no keys (unless `allow_unauthenticated`) refuses to start.
    """

    # An empty ATTACHE_API_KEYS is a mistake to report, not "no keys": nothing here is ignored.
    model_config = SettingsConfigDict(env_ignore_empty=False)

    max_body_bytes: PositiveInt = Field(
        default=2_000_000, description="Largest request body accepted; larger gets 413."
    )
    max_concurrent_extractions: PositiveInt = Field(
        default=8,
        description="Extractions one process runs at once; more are shed with 503.",
    )
    overloaded_retry_after_s: PositiveInt = Field(
        default=5, description="Retry-After sent with a shed request's 503."
    )
    batch_concurrency: PositiveInt = Field(
        default=4,
        description="Articles of one batch request (POST /v1/extractions/batch) in flight at "
        "once, at most max_concurrent_extractions; the batch holds that many of them while it "
        "runs.",
    )
    max_batch_articles: PositiveInt = Field(
        default=1000, description="Requests one batch may carry; more gets 413."
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated keys (16+ characters each) accepted in X-API-Key or "
        "Authorization: Bearer; unset: no authentication. Several allow rotation.",
    )
    failed_auth_per_minute: PositiveInt = Field(
        default=10,
        description="Wrong API keys one client address may send in a minute; past that, 429.",
    )
    allow_unauthenticated: bool = Field(
        default=False,
        description="Serve without API keys on an address other than loopback; without it, "
        "that refuses to start.",
    )
    rate_limit_per_minute: Annotated[int, Field(ge=0)] = Field(
        default=0,
        description="Requests a minute per API key (per client address without keys); 0: off.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Level of the JSON logs on stderr."
    )
    log_sensitive: bool = Field(
        default=False,
        description="Debug only: let logs carry article text and upstream payloads.",
    )
    host: Annotated[str, Field(min_length=1)] = Field(
        default="127.0.0.1", description="`attache serve` bind address."
    )
    port: Annotated[int, Field(ge=1, le=65535)] = Field(
        default=8000, description="`attache serve` port."
    )
    database_url: Annotated[str, Field(min_length=1)] = Field(
        default=DEFAULT_DATABASE_URL,
        description="The review store's database (editors' decisions and their audit trail): "
        "sqlite:///FILE (the default; ~ expands, the folder is created) or "
        "postgresql://USER:PASSWORD@HOST/DB, which replicas share; migrated on open.",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Signs the review page's sign-in cookies and CSRF tokens; every replica "
        "behind one address needs the same. Unset: derived from ATTACHE_API_KEYS (a key change "
        "ends every session), or, with no keys, one chosen by `attache serve` for its workers.",
    )
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = Field(
        default=12, description="How long a review page sign-in lasts."
    )
    secure_cookies: bool = Field(
        default=True,
        description="Mark the review page's cookies Secure (sent over HTTPS only; browsers "
        "treat http://localhost and 127.0.0.1 as secure). Off only for plain HTTP elsewhere.",
    )
    workers: Annotated[int, Field(ge=1, le=256)] | None = Field(
        default=None,
        description="`attache serve` processes; unset: the CPU count. Every limit kept in "
        "memory (concurrent extractions, rate limits, failed keys) is per process.",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            keys = [key.strip() for key in value.split(",") if key.strip()]
            if not keys:
                raise ValueError(
                    "ATTACHE_API_KEYS is set but holds no key; unset it to serve without keys"
                )
            return keys
        return value

    @field_validator("api_keys")
    @classmethod
    def _keys_are_long(cls, keys: list[SecretStr]) -> list[SecretStr]:
        short = sum(len(key.get_secret_value()) < MIN_API_KEY_CHARS for key in keys)
        if short:
            raise ValueError(f"{short} API key(s) shorter than {MIN_API_KEY_CHARS} characters")
        return keys

    @model_validator(mode="after")
    def _open_only_on_loopback(self) -> Self:
        if not self.api_keys and not self.allow_unauthenticated and not _is_loopback(self.host):
            raise ValueError(
                f"serving on {self.host} with no API keys: set ATTACHE_API_KEYS, or "
                "ATTACHE_ALLOW_UNAUTHENTICATED=true to accept anyone who can reach it"
            )
        return self


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere
