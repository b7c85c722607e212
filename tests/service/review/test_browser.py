"""The review page in a real browser: Debian's Chromium (`/usr/bin/chromium`, which `.ci/run`
installs; nothing is downloaded), driven by Playwright against a served attache whose model is a
local fake answering the Board of Peace story.

Each test leaves a screenshot of the state it reached in `ATTACHE_SCREENSHOTS` (a folder; the
test's own temporary folder when unset): `ATTACHE_SCREENSHOTS=docs/review .venv/bin/pytest
tests/service/review/test_browser.py` refreshes the ones in the docs.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from attache.app import create_app
from attache.evals.validate import problems
from attache.review.decisions import ArticleView, AuditEntry, ReviewState
from attache.review.store import ReviewStore
from attache.schemas import ExtractionRequest, ExtractionResponse
from attache.schemas.api import Timings, TokenUsage
from attache.schemas.fixtures import Article, Fixture
from attache.settings import ServerSettings, Settings
from tests.fake_upstream import fake_upstream, serve
from tests.fakes import completion
from tests.service.review.conftest import BOARD_OF_PEACE
from tests.service.review.test_page import HOSTILE

CHROMIUM = Path("/usr/bin/chromium")
# Read on import: every test runs in a folder of its own with the ATTACHE_* variables cleared.
SCREENSHOTS = (
    Path(os.environ["ATTACHE_SCREENSHOTS"]).resolve()
    if "ATTACHE_SCREENSHOTS" in os.environ
    else None
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Chromium is not installed: .ci/run installs it (apt-get chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield launched
        launched.close()


@dataclass
class Served:
    """The served app, and its review database read the way the service reads it."""

    url: str
    database_url: str

    def view(self, article_id: str) -> ArticleView:
        view: ArticleView = self._read(lambda store: store.article(article_id))
        return view

    def history(self, article_id: str) -> list[AuditEntry]:
        history: list[AuditEntry] = self._read(lambda store: store.history(article_id))
        return history

    def add(self, request: ExtractionRequest, response: ExtractionResponse) -> None:
        self._read(lambda store: store.add_article(request, response))

    def _read(self, query: Any) -> Any:
        async def read() -> Any:
            async with ReviewStore.open(self.database_url) as store:
                return await query(store)

        # Playwright's synchronous API runs an event loop in this thread: read in another.
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, read()).result()


@pytest.fixture
def served(board_of_peace_answer: dict[str, Any], tmp_path: Path) -> Iterator[Served]:
    database_url = f"sqlite:///{tmp_path / 'review.db'}"
    with fake_upstream(lambda _: completion(board_of_peace_answer)) as (upstream, _):
        app = create_app(
            Settings(_env_file=None, base_url=upstream, model="fake", api_key="k"),
            ServerSettings(_env_file=None, database_url=database_url, log_level="WARNING"),
        )
        with serve(app) as url:
            yield Served(url, database_url)


Shoot = Callable[[str], None]


@pytest.fixture
def shoot(page: Page, tmp_path: Path) -> Shoot:
    """Leave a screenshot of the page now, named `name`, beside the tests' own."""

    def take(name: str) -> None:
        page.screenshot(path=(SCREENSHOTS or tmp_path) / f"{name}.png")

    return take


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("dialog", lambda dialog: errors.append(f"a dialog opened: {dialog.message}"))
    yield opened
    folder = SCREENSHOTS or tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=folder / f"{request.node.name.removeprefix('test_')}.png")
    context.close()
    assert errors == [], errors


def paste(page: Page, served: Served, article: Article, *, scripts: bool = True) -> None:
    page.goto(f"{served.url}/review")
    page.fill("input[name=id]", article.id)
    page.fill("input[name=published_at]", str(article.published_at or ""))
    page.fill("textarea[name=text]", article.text)
    page.click("text=Extract and review")
    page.wait_for_url("**/review/article?**")
    if scripts:
        expect(page.locator("#help-button")).to_be_visible()  # review.js ran


def code_points(page: Page) -> list[dict[str, Any]]:
    """Each highlighted run: where it starts and ends in the article (in code points, as the
    server counts), and the records it marks."""
    runs: list[dict[str, Any]] = page.eval_on_selector_all(
        "#article mark[data-records]",
        """marks => marks.map(m => ({start: Number(m.dataset.start),
            end: Number(m.dataset.start) + Array.from(m.textContent).length,
            records: m.dataset.records.split(" ")}))""",
    )
    return runs


def test_highlights_are_the_evidence_offsets(
    page: Page, served: Served, board_of_peace: Article
) -> None:
    paste(page, served, board_of_peace)
    shown_text = page.eval_on_selector("#article", "a => a.textContent")
    assert shown_text == board_of_peace.text
    marked: dict[str, set[int]] = {}
    for run in code_points(page):
        for record in run["records"]:
            marked.setdefault(record, set()).update(range(run["start"], run["end"]))
    view = served.view(BOARD_OF_PEACE)
    expected = {
        r.record_id: {
            at
            for e in r.record.evidence
            if e.start is not None and e.end is not None
            for at in range(e.start, e.end)
        }
        for r in view.records
        if r.record is not None
    }
    assert marked == {rid: chars for rid, chars in expected.items() if chars}
    assert len(marked) == len(view.records)  # every record of this story is anchored


def test_a_card_scrolls_to_its_evidence_and_evidence_selects_its_card(
    page: Page, served: Served, board_of_peace: Article
) -> None:
    paste(page, served, board_of_peace)
    view = served.view(BOARD_OF_PEACE)
    last = view.records[-1].record_id  # its evidence is far down the story
    page.evaluate("window.scrollTo(0, 0)")
    page.click(f"#card-{last} header")
    expect(page.locator(f"#card-{last}")).to_have_class(_has("selected"))
    first_mark = page.locator(f'#article mark[data-records~="{last}"]').first
    expect(first_mark).to_have_class(_has("marked"))
    expect(first_mark).to_be_in_viewport()
    other = view.records[0].record_id
    page.locator(f'#article mark[data-records~="{other}"]').first.click()
    expect(page.locator(f"#card-{other}")).to_have_class(_has("selected"))
    expect(page.locator(f"#card-{last}")).not_to_have_class(_has("selected"))


def test_a_keyboard_accept_is_kept_and_undone(
    page: Page, served: Served, board_of_peace: Article, shoot: Shoot
) -> None:
    paste(page, served, board_of_peace)
    page.keyboard.press("j")
    first = served.view(BOARD_OF_PEACE).records[0].record_id
    expect(page.locator(f"#card-{first}")).to_have_class(_has("selected"))
    page.keyboard.press("a")
    expect(page.locator(f"#card-{first} header .state")).to_have_text("accepted")
    [entry] = served.history(BOARD_OF_PEACE)
    assert (entry.record_id, entry.action.value, entry.key.value) == (first, "accept", "a")
    states = {r.record_id: r.state for r in served.view(BOARD_OF_PEACE).records}
    assert states[first] is ReviewState.ACCEPTED
    page.keyboard.press("j")
    page.keyboard.press("x")
    second = served.view(BOARD_OF_PEACE).records[1].record_id
    expect(page.locator(f"#card-{second} header .state")).to_have_text("rejected")
    page.keyboard.press("u")
    expect(page.locator(f"#card-{second} header .state")).to_have_text("pending")
    assert [e.key.value for e in served.history(BOARD_OF_PEACE)] == ["a", "x", "u"]
    page.keyboard.press("k")
    expect(page.locator(f"#card-{first}")).to_have_class(_has("selected"))
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    shoot("keys_help")
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()


def test_without_javascript_the_forms_do_the_work(
    browser: Browser, served: Served, board_of_peace: Article
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        paste(page, served, board_of_peace, scripts=False)
        first = served.view(BOARD_OF_PEACE).records[0].record_id
        page.click(f"#card-{first} form.accept button")
        page.wait_for_url(f"**#card-{first}")
        expect(page.locator(f"#card-{first} header .state")).to_have_text("accepted")
        assert [e.key.value for e in served.history(BOARD_OF_PEACE)] == ["form"]
    finally:
        context.close()


def test_an_invalid_edit_shows_its_error_at_the_field(
    page: Page, served: Served, board_of_peace: Article, shoot: Shoot
) -> None:
    paste(page, served, board_of_peace)
    page.keyboard.press("j")
    first = served.view(BOARD_OF_PEACE).records[0]
    page.keyboard.press("e")
    form = page.locator(f"#card-{first.record_id} #edit-form")
    expect(form).to_be_visible()
    actors = "inviters" if first.record_type.value == "invitation" else "participants"
    form.locator(f"textarea[name={actors}]").fill("[]")
    form.locator("button[type=submit]").click()
    error = page.locator(f'#edit-form [data-field="{actors}"] .field-error')
    expect(error).to_contain_text("at least 1 item")
    error.scroll_into_view_if_needed()
    shoot("edit_refused_at_the_field")
    assert served.history(BOARD_OF_PEACE) == []
    form = page.locator("#edit-form")
    form.locator(f"textarea[name={actors}]").fill(
        json.dumps([a.model_dump(mode="json") for a in getattr(first.record, actors)])
    )
    form.locator("input[name=date]").fill("on 22 January")
    form.locator("button[type=submit]").click()
    expect(page.locator(f"#card-{first.record_id} header .state")).to_have_text("edited")
    [entry] = served.history(BOARD_OF_PEACE)
    assert (entry.action.value, entry.key.value) == ("edit", "e")


def test_selected_text_becomes_evidence_at_its_exact_offsets(
    page: Page, served: Served, board_of_peace: Article, shoot: Shoot
) -> None:
    paste(page, served, board_of_peace)
    first = served.view(BOARD_OF_PEACE).records[0].record_id
    page.click(f"#card-{first} header")
    sentence = "Dmitriev previously visited the United States in December"
    start = board_of_peace.text.index(sentence)
    page.evaluate(
        """([sentence]) => {
            const article = document.getElementById("article");
            const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
            while (walker.nextNode()) {
                const at = walker.currentNode.data.indexOf(sentence);
                if (at >= 0) {
                    const range = document.createRange();
                    range.setStart(walker.currentNode, at);
                    range.setEnd(walker.currentNode, at + sentence.length);
                    getSelection().removeAllRanges();
                    getSelection().addRange(range);
                    article.dispatchEvent(new MouseEvent("mouseup", {bubbles: true}));
                    return;
                }
            }
            throw new Error("sentence not found");
        }""",
        [sentence],
    )
    expect(page.locator("#selection")).to_be_visible()
    shoot("selection_ready_to_place")
    expect(page.locator("#selection-range")).to_have_text(
        f"characters {start} to {start + len(sentence)}"
    )
    page.click("#selection-anchor button")
    expect(page.locator(f"#card-{first} header .state")).to_have_text("edited")
    record = next(r for r in served.view(BOARD_OF_PEACE).records if r.record_id == first)
    assert record.record is not None
    placed = record.record.evidence[-1]
    assert (placed.quote, placed.start, placed.end) == (sentence, start, start + len(sentence))


def test_carriage_returns_reach_the_page_so_offsets_count_the_same_characters(
    page: Page, served: Served
) -> None:
    text = "Line one.\r\nLine two:\rPutin met Trump in Davos."
    request = ExtractionRequest(text=text, id="crlf")
    response = ExtractionResponse.model_validate(
        {"id": "crlf", "model": "m", "prompt_version": "v1", "usage": TokenUsage(),
         "timings": Timings(total_ms=1, model_ms=1)}
    )  # fmt: skip
    served.add(request, response)
    page.goto(f"{served.url}/review/article?id=crlf")
    assert page.eval_on_selector("#article", "a => a.textContent") == text


def test_markup_in_an_article_stays_inert(page: Page, served: Served) -> None:
    paste(page, served, Article(id="hostile", text=HOSTILE))
    expect(page.locator("#article")).to_contain_text("<script>window.pwned = 1</script>")
    assert page.evaluate("window.pwned") is None
    assert page.locator("#article img, #article a, #article script").count() == 0


def test_export_gives_a_fixture_that_validates(
    page: Page, served: Served, board_of_peace: Article, tmp_path: Path
) -> None:
    paste(page, served, board_of_peace)
    records = served.view(BOARD_OF_PEACE).records
    for record in records:
        page.keyboard.press("j")
        page.keyboard.press("a")
        expect(page.locator(f"#card-{record.record_id} header .state")).to_have_text("accepted")
    with page.expect_download() as download:
        page.click("text=Export gold")
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    fixture = Fixture.model_validate_json(archive.read(f"fixtures/{BOARD_OF_PEACE}.json"))
    [line] = archive.read("articles.jsonl").decode().splitlines()
    article = Article.model_validate_json(line)
    assert problems(fixture, {article.id: article.text}) == []
    assert len(fixture.gold.records) == len(records)
    page.goto(f"{served.url}/review")  # the queue, for the screenshot: one article reviewed


def _has(name: str) -> re.Pattern[str]:
    """A class attribute that holds the class `name`."""
    return re.compile(rf"(^|\s){name}(\s|$)")
