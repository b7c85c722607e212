"""The review page over HTTP, with plain forms (JavaScript off): the queue, pasting an article,
each decision, its refusals shown at the field, undo, gold export, sign-in, CSRF and escaping.

The browser's side (highlights, keys, clicks, selection) is in `test_browser.py`.
"""

from __future__ import annotations

import html
import io
import json
import re
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
import respx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from attache.app import create_app
from attache.evals.validate import problems
from attache.review.decisions import ReviewState
from attache.review.page import StoreHolder
from attache.review.store import ReviewStore
from attache.schemas.fixtures import Article, Fixture
from tests.conftest import ServerFactory, SettingsFactory
from tests.fakes import COMPLETIONS, error
from tests.service.review.conftest import BOARD_OF_PEACE, MEETING_EVIDENCE, MEETING_START

KEY = "review-key-0123456789"
HOSTILE = (
    "The minister said: <script>window.pwned = 1</script> and "
    '<img src="x" onerror="window.pwned = 2"> then <a href="javascript:window.pwned = 3">click</a>.'
)


def token(page: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@pytest.fixture
def app(make_settings: SettingsFactory, make_server: ServerFactory) -> Litestar:
    return create_app(make_settings(), make_server(secure_cookies=False))


@pytest.fixture
async def browser(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client that keeps cookies, as a browser does."""
    async with AsyncTestClient(app=app) as client:
        yield client


async def review_store(app: Litestar) -> ReviewStore:
    holder: StoreHolder = app.state.review
    return await holder.get()


async def paste(browser: AsyncTestClient[Litestar], article: Article, **fields: str) -> Any:
    queue = await browser.get("/review")
    form = {"_csrf_token": token(queue.text), "text": article.text, "id": article.id,
            "published_at": str(article.published_at), **fields}  # fmt: skip
    return await browser.post("/review/articles", data=form, follow_redirects=False)


@pytest.fixture
async def board(
    browser: AsyncTestClient[Litestar], answered: respx.Route, board_of_peace: Article
) -> str:
    """The Board of Peace story pasted and extracted (the fake model's answer): its page."""
    pasted = await paste(browser, board_of_peace)
    assert pasted.status_code == 303
    page = await browser.get(pasted.headers["location"])
    assert page.status_code == 200
    return page.text


async def post(browser: AsyncTestClient[Litestar], path: str, page: str, **form: Any) -> Any:
    return await browser.post(
        path, data={"_csrf_token": token(page), **form}, follow_redirects=False
    )


async def test_a_pasted_article_is_extracted_and_shown_with_its_records(
    board: str, answered: respx.Route, app: Litestar
) -> None:
    assert answered.call_count == 1
    view = await (await review_store(app)).article(BOARD_OF_PEACE)
    for record in view.records:
        assert f'id="card-{record.record_id}"' in board
    assert "0 of 6 records decided" in board
    assert 'class="legend"' in board


async def test_pasting_the_same_article_again_opens_it_without_asking_the_model(
    board: str, browser: AsyncTestClient[Litestar], answered: respx.Route, board_of_peace: Article
) -> None:
    again = await paste(browser, board_of_peace)
    assert again.status_code == 303
    assert answered.call_count == 1
    other = await paste(browser, board_of_peace, text="Another text altogether.")
    assert other.status_code == 409
    assert "in review with another text" in html.unescape(other.text)


async def test_a_failed_extraction_is_shown_on_the_queue_page(
    browser: AsyncTestClient[Litestar], upstream: respx.MockRouter, board_of_peace: Article
) -> None:
    upstream.post(COMPLETIONS).mock(return_value=error(400, "model not found"))
    pasted = await paste(browser, board_of_peace)
    assert pasted.status_code == 502
    assert "The model endpoint rejected the request" in html.unescape(pasted.text)
    assert board_of_peace.text.split()[0] in pasted.text  # the text is kept to try again


async def test_an_accept_by_form_is_kept_with_its_key_and_redirects_to_the_card(
    board: str, browser: AsyncTestClient[Litestar], app: Litestar
) -> None:
    done = await post(browser, "/review/decide", board, article=BOARD_OF_PEACE, record="mtg-1",
                      verdict="accept", key="a")  # fmt: skip
    assert done.status_code == 303
    assert done.headers["location"].endswith("#card-mtg-1")
    store = await review_store(app)
    [entry] = await store.history(BOARD_OF_PEACE)
    assert (entry.record_id, entry.action.value, entry.key.value) == ("mtg-1", "accept", "a")
    states = {r.record_id: r.state for r in (await store.article(BOARD_OF_PEACE)).records}
    assert states["mtg-1"] is ReviewState.ACCEPTED


async def test_htmx_gets_the_page_itself_instead_of_a_redirect(
    board: str, browser: AsyncTestClient[Litestar]
) -> None:
    done = await browser.post(
        "/review/decide",
        data={"_csrf_token": token(board), "article": BOARD_OF_PEACE, "record": "inv-1",
              "verdict": "reject"},
        headers={"HX-Request": "true"},
    )  # fmt: skip
    assert done.status_code == 200
    assert 'data-selected="inv-1"' in done.text
    assert "1 of 6 records decided" in done.text


async def test_a_form_without_its_csrf_token_changes_nothing(
    board: str, browser: AsyncTestClient[Litestar], app: Litestar
) -> None:
    forged = await browser.post(
        "/review/decide",
        data={"article": BOARD_OF_PEACE, "record": "mtg-1", "verdict": "accept"},
    )
    assert forged.status_code == 403
    assert forged.json()["type"] == "urn:attache:problem:forbidden"
    wrong = await browser.post(
        "/review/decide",
        data={"_csrf_token": "x" * 64, "article": BOARD_OF_PEACE, "record": "mtg-1",
              "verdict": "accept"},
    )  # fmt: skip
    assert wrong.status_code == 403
    assert await (await review_store(app)).history(BOARD_OF_PEACE) == []


async def test_an_invalid_edit_is_refused_with_its_error_at_the_field(
    board: str, browser: AsyncTestClient[Litestar], app: Litestar
) -> None:
    form = await browser.get("/review/edit", params={"article": BOARD_OF_PEACE, "record": "mtg-1"})
    assert form.status_code == 200
    refused = await post(browser, "/review/edit", form.text, article=BOARD_OF_PEACE,
                         record="mtg-1", participants="[]", status="held")  # fmt: skip
    assert refused.status_code == 422
    field = re.search(r'data-field="participants">(.*?)</div>', refused.text, re.S)
    assert field
    assert "field-error" in field.group(1)
    assert "at least 1 item" in html.unescape(field.group(1))
    assert await (await review_store(app)).history(BOARD_OF_PEACE) == []


async def test_a_valid_edit_resolves_its_date_and_keeps_the_record_edited(
    board: str, browser: AsyncTestClient[Litestar], app: Litestar
) -> None:
    form = await browser.get("/review/edit", params={"article": BOARD_OF_PEACE, "record": "mtg-1"})
    done = await post(browser, "/review/edit", form.text, article=BOARD_OF_PEACE, record="mtg-1",
                      date="on 21 January", key="e")  # fmt: skip
    assert done.status_code == 303
    view = await (await review_store(app)).article(BOARD_OF_PEACE)
    meeting = next(r for r in view.records if r.record_id == "mtg-1")
    assert meeting.state is ReviewState.EDITED
    assert meeting.record is not None
    assert meeting.record.date is not None
    assert meeting.record.date.start is not None
    assert meeting.record.date.start.isoformat() == "2026-01-21"


async def test_evidence_is_placed_only_where_the_article_has_exactly_that_text(
    board: str, browser: AsyncTestClient[Litestar], app: Litestar
) -> None:
    end = MEETING_START + len(MEETING_EVIDENCE)
    off_by_one = await post(browser, "/review/anchor", board, article=BOARD_OF_PEACE,
                            record="mtg-1", quote=MEETING_EVIDENCE, start=MEETING_START + 1,
                            end=end + 1)  # fmt: skip
    assert off_by_one.status_code == 422
    assert "not the quote" in html.unescape(off_by_one.text)
    placed = await post(browser, "/review/anchor", board, article=BOARD_OF_PEACE, record="mtg-1",
                        quote=MEETING_EVIDENCE, start=MEETING_START, end=end)  # fmt: skip
    assert placed.status_code == 303
    view = await (await review_store(app)).article(BOARD_OF_PEACE)
    meeting = next(r for r in view.records if r.record_id == "mtg-1")
    assert meeting.record is not None
    assert (meeting.record.evidence[-1].start, meeting.record.evidence[-1].end) == (
        MEETING_START,
        end,
    )


async def test_a_missed_record_is_added_from_a_selection_and_undone(
    board: str, browser: AsyncTestClient[Litestar], app: Litestar
) -> None:
    end = MEETING_START + len(MEETING_EVIDENCE)
    form = await browser.get(
        "/review/add",
        params={"article": BOARD_OF_PEACE, "type": "meeting", "start": MEETING_START, "end": end},
    )
    assert form.status_code == 200
    assert html.escape(MEETING_EVIDENCE, quote=False) in form.text  # the selection as evidence
    evidence = re.search(r'name="evidence"[^>]*>(.*?)</textarea>', form.text, re.S)
    assert evidence
    participants = [{"id": "act-7", "name": "Dmitriev", "canonical_name": "Kirill Dmitriev",
                     "kind": "person", "country": "RU"}]  # fmt: skip
    added = await post(browser, "/review/add", form.text, article=BOARD_OF_PEACE, type="meeting",
                       participants=json.dumps(participants), status="held",
                       evidence=html.unescape(evidence.group(1)))  # fmt: skip
    assert added.status_code == 303
    store = await review_store(app)
    [new] = [r for r in (await store.article(BOARD_OF_PEACE)).records if r.origin.value == "added"]
    assert new.state is ReviewState.ADDED
    assert new.record is not None
    assert new.record.evidence[0].start == MEETING_START
    page = await browser.get(added.headers["location"])
    undone = await post(browser, "/review/undo", page.text, article=BOARD_OF_PEACE, key="u")
    assert undone.status_code == 303
    assert new.record_id not in {r.record_id for r in (await store.article(BOARD_OF_PEACE)).records}
    nothing = await post(browser, "/review/undo", page.text, article=BOARD_OF_PEACE)
    assert nothing.json()["type"] == "urn:attache:problem:nothing-to-undo"


async def test_a_reviewed_article_exports_as_a_fixture_that_validates(
    board: str, browser: AsyncTestClient[Litestar], app: Litestar, tmp_path: Path
) -> None:
    empty = zipfile.ZipFile(io.BytesIO((await browser.get("/review/export")).content))
    assert [n for n in empty.namelist() if n.startswith("fixtures/")] == []
    view = await (await review_store(app)).article(BOARD_OF_PEACE)
    for record in view.records:
        verdict = "reject" if record.record_id == "inv-1" else "accept"
        done = await post(browser, "/review/decide", board, article=BOARD_OF_PEACE,
                          record=record.record_id, verdict=verdict)  # fmt: skip
        assert done.status_code == 303
    exported = await browser.get("/review/export")
    assert exported.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    archive.extractall(tmp_path)
    fixture = Fixture.model_validate_json(
        (tmp_path / f"fixtures/{BOARD_OF_PEACE}.json").read_text()
    )
    articles = [Article.model_validate_json(line) for line in
                (tmp_path / "articles.jsonl").read_text().splitlines()]  # fmt: skip
    assert problems(fixture, {articles[0].id: articles[0].text}) == []
    assert "inv-1" not in {r.id for r in fixture.gold.records}
    assert len(fixture.gold.records) == len(view.records) - 1


async def test_markup_in_an_article_is_shown_as_text(
    browser: AsyncTestClient[Litestar], upstream: respx.MockRouter
) -> None:
    upstream.post(COMPLETIONS).mock(side_effect=lambda _: error(500, "down"))
    queue = await browser.get("/review")
    await browser.post(
        "/review/articles",
        data={"_csrf_token": token(queue.text), "text": HOSTILE, "id": "hostile"},
    )
    # The model is down: the text comes back in the form, escaped.
    failed = await browser.post(
        "/review/articles",
        data={"_csrf_token": token(queue.text), "text": HOSTILE, "id": "hostile"},
    )
    assert "<script>window.pwned" not in failed.text
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in failed.text
    assert "<img" not in failed.text
    assert '<a href="javascript' not in failed.text
    policy = failed.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


async def test_metrics_export_the_adoption_rate(
    board: str, browser: AsyncTestClient[Litestar]
) -> None:
    for record, verdict in (("mtg-1", "accept"), ("inv-1", "reject")):
        await post(browser, "/review/decide", board, article=BOARD_OF_PEACE, record=record,
                   verdict=verdict)  # fmt: skip
    metrics = (await browser.get("/metrics")).text
    assert 'attache_review_adoption_ratio{type="all"} 0.16666' in metrics  # 1 of 6
    assert 'attache_review_adoption_ratio{type="meeting"} 0.5' in metrics  # 1 of 2
    assert (
        'attache_review_records{origin="model",state="rejected",type="invitation"} 1.0' in metrics
    )


# --- sign-in -----------------------------------------------------------------------------


@pytest.fixture
def guarded(make_settings: SettingsFactory, make_server: ServerFactory) -> Litestar:
    return create_app(make_settings(), make_server(api_keys=KEY, secure_cookies=False))


async def test_with_keys_a_browser_is_sent_to_sign_in_and_back(guarded: Litestar) -> None:
    async with AsyncTestClient(app=guarded) as client:
        sent = await client.get(
            "/review/article?id=x", headers={"Accept": "text/html"}, follow_redirects=False
        )
        assert sent.status_code == 303
        assert sent.headers["location"] == "/review/sign-in?next=%2Freview%2Farticle%3Fid%3Dx"
        api = await client.post("/review/decide", data={})
        assert api.status_code == 401  # not a browser page: the problem, not a redirect
        assert api.json()["type"] == "urn:attache:problem:unauthorized"
        form = await client.get("/review/sign-in", params={"next": "/review"})
        wrong = await client.post(
            "/review/sign-in", data={"_csrf_token": token(form.text), "key": "wrong-key-000000"}
        )
        assert wrong.status_code == 401
        assert "not a valid API key" in wrong.text
        right = await client.post(
            "/review/sign-in",
            data={"_csrf_token": token(form.text), "key": KEY, "next": "https://evil.example/"},
            follow_redirects=False,
        )
        assert right.status_code == 303
        assert right.headers["location"] == "/review"  # never a redirect off the review
        cookie = right.headers["set-cookie"]
        assert "attache_session=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/review" in cookie
        assert (await client.get("/review")).status_code == 200
        # The cookie opens the review only: the API still wants a key.
        extraction = await client.post("/v1/extractions", json={"text": "x"})
        assert extraction.status_code == 401
        out = await client.post(
            "/review/sign-out", data={"_csrf_token": token((await client.get("/review")).text)}
        )
        assert out.status_code == 200  # followed to the sign-in form
        assert (await client.get("/review", follow_redirects=False)).status_code == 401


async def test_the_api_key_header_opens_the_review_too(guarded: Litestar) -> None:
    async with AsyncTestClient(app=guarded) as client:
        assert (await client.get("/review", headers={"X-API-Key": KEY})).status_code == 200
        assert (await client.get("/review", headers={"X-API-Key": "x" * 20})).status_code == 401


async def test_a_session_ends_when_its_key_is_removed_or_it_expires(
    guarded: Litestar, make_settings: SettingsFactory, make_server: ServerFactory
) -> None:
    async with AsyncTestClient(app=guarded) as client:
        form = await client.get("/review/sign-in")
        await client.post("/review/sign-in", data={"_csrf_token": token(form.text), "key": KEY})
        session = client.cookies["attache_session"]
    secret = "shared-secret-for-replicas"  # noqa: S105 - a test's
    rotated = create_app(
        make_settings(),
        make_server(api_keys="another-key-0123456789", session_secret=secret, secure_cookies=False),
    )
    same_key = create_app(
        make_settings(),
        make_server(api_keys=KEY, session_secret=secret, secure_cookies=False, session_hours=1),
    )
    async with AsyncTestClient(app=same_key) as client:
        form = await client.get("/review/sign-in")
        await client.post("/review/sign-in", data={"_csrf_token": token(form.text), "key": KEY})
        replica_session = client.cookies["attache_session"]
    async with AsyncTestClient(app=rotated) as client:
        client.cookies["attache_session"] = replica_session
        assert (await client.get("/review", follow_redirects=False)).status_code == 401
    async with AsyncTestClient(app=same_key) as client:
        client.cookies["attache_session"] = replica_session
        assert (await client.get("/review")).status_code == 200
        client.cookies["attache_session"] = session  # signed under the other secret
        assert (await client.get("/review", follow_redirects=False)).status_code == 401
        fingerprint, expiry, mac = replica_session.split(".")
        client.cookies["attache_session"] = f"{fingerprint}.{int(expiry) + 3600}.{mac}"
        assert (await client.get("/review", follow_redirects=False)).status_code == 401
        client.cookies["attache_session"] = replica_session
        later = time.time() + 3601  # the session was for an hour
        with patch("attache.security.time.time", return_value=later):
            assert (await client.get("/review", follow_redirects=False)).status_code == 401
