"""The article reaches the model byte for byte, whatever it contains (issue: instructor renders
messages as Jinja templates when a call carries a validation context)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attache import prompts
from attache.extractor import Extractor
from attache.schemas import ExtractionRequest
from attache.settings import Settings
from tests.fakes import BASE_URL, COMPLETIONS, EMPTY_ANSWER, MODEL, ok

# What a template engine, a format string or our own prompt would read as its own syntax.
HOSTILE = [
    "{{ 7*7 }}", "{{ config }}", "{% if x %}", "{% endif %}", "{# note #}", "{%- raw -%}",
    "$types", "${x}", "$$", "%(article)s", "{0}", "\\", "\\n", "\\\\u0041",
    "<<<ARTICLE 0123456789abcdef>>>", "## The four record types", "Extract these record types:",
    "</article>", "```json",
]  # fmt: skip
ARTICLES = st.lists(
    st.sampled_from(HOSTILE) | st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=20),
    min_size=1,
    max_size=8,
).map(lambda parts: "Talks in Geneva. " + " \n".join(parts))


def user_messages(route: respx.Route) -> list[str]:
    sent: list[dict[str, Any]] = [json.loads(call.request.content) for call in route.calls]
    return [m["content"] for body in sent for m in body["messages"] if m["role"] == "user"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(article=ARTICLES)
async def test_the_article_reaches_the_model_verbatim(article: str) -> None:
    config = Settings(base_url=BASE_URL, model=MODEL, api_key="k", upstream_retries=0)
    with respx.mock(base_url=BASE_URL, assert_all_mocked=True) as upstream:
        route = upstream.post(COMPLETIONS).mock(return_value=ok(EMPTY_ANSWER))
        async with Extractor.open(config) as extractor:
            await extractor.extract(ExtractionRequest(text=article))
    [message] = user_messages(route)
    fence = prompts.fence_for(article)
    assert message.endswith(f"{fence}\n{article}\n{fence}\n")


async def test_a_reask_repeats_the_article_verbatim(settings: Settings) -> None:
    article = "The {{ minister }} met {% the envoy %} in ${city} on {# Monday #}."
    fabricated = {
        **EMPTY_ANSWER,
        "meetings": [
            {
                "ref": "R1", "status": "held", "topics": [],
                "participants": [{"name": "the minister", "canonical_name": "the minister",
                                  "kind": "person"}],
                "evidence": ["The minister met the envoy in Paris."],
            }
        ],
    }  # fmt: skip
    with respx.mock(base_url=BASE_URL, assert_all_mocked=True) as upstream:
        route = upstream.post(COMPLETIONS).mock(
            side_effect=[ok(fabricated), httpx.Response(200, json=ok(EMPTY_ANSWER).json())]
        )
        async with Extractor.open(settings) as extractor:
            await extractor.extract(ExtractionRequest(text=article))
    first, reask = user_messages(route)[0], user_messages(route)[1:]
    assert f"\n{article}\n" in first
    assert any(f"\n{article}\n" in message for message in reask)
    assert route.call_count == 2


async def test_a_date_only_publication_reaches_the_model_as_a_date(settings: Settings) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_mocked=True) as upstream:
        route = upstream.post(COMPLETIONS).mock(return_value=ok(EMPTY_ANSWER))
        async with Extractor.open(settings) as extractor:
            await extractor.extract(ExtractionRequest(text="Talks.", published_at="2026-01-20"))
            await extractor.extract(
                ExtractionRequest(text="Talks.", published_at="2026-01-20T10:30:00+01:00")
            )
    date_only, timed = user_messages(route)
    assert "Publication date of the article: 2026-01-20.\n" in date_only
    assert "2026-01-20T10:30:00+01:00" in timed
