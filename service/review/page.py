"""The review page, `/review`: the queue, an article with its evidence and records, decisions.

Server-rendered HTML (Jinja templates in `templates/`, every value escaped) that works with
JavaScript off: each decision is a plain form, answered with a redirect back to the article.
With JavaScript, htmx (served from `static/`, no CDN) swaps the answer in place, and
`static/review.js` adds the keys (a accept, x reject, e edit, j/k next and previous, u undo,
? help), click-to-scroll between cards and highlights, and evidence from a text selection.

Articles are named in query strings and form fields, never in the path: an article id may hold
any character, `/` included.

Who decides is the API key's fingerprint (`attache.security`): in the `X-API-Key` header, or
signed in at `/review/sign-in`, which sets a session cookie. Every form carries a CSRF token
(Litestar's double-submit cookie, under `ATTACHE_SESSION_SECRET`); the pages forbid inline
scripts and every other origin (`Content-Security-Policy`), so markup in an article stays text.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined
from litestar import Controller, Request, Response, get, post
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Cookie, ResponseHeader, State
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import ControllerRouterHandler
from markupsafe import Markup, escape
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from attache.admission import Admission
from attache.errors import (
    ArticleInReview,
    AttacheError,
    DecisionRefused,
    InvalidRequest,
    NothingToUndo,
    ReviewNotFound,
    ReviewStoreUnavailable,
)
from attache.extractor import Extractor
from attache.review import forms, store
from attache.review.decisions import (
    Accept,
    Add,
    ArticleState,
    ArticleView,
    Decision,
    Edit,
    FieldError,
    Key,
    Reanchor,
    RecordView,
    Reject,
    ReviewState,
)
from attache.review.highlight import runs
from attache.review.store import ReviewStore
from attache.schemas import ExtractionRequest, Record
from attache.schemas.common import ActorMention, RecordType
from attache.security import SESSION_COOKIE, FailedAttempts, KeyRing, Sessions, fingerprint

PAGE_SIZE = 50
_STATIC = Path(__file__).parent / "static"
_FORM = Body(media_type=RequestEncodingType.URL_ENCODED)

# Inline scripts and styles, other origins, plugins, framing: all refused. htmx is told not to
# add its own style element or evaluate code (`htmx-config` in `base.html`).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class StoreHolder:
    """The review store, opened (and migrated) on first use rather than at start: the API
    serves without a reachable database; only the review page and its metrics need one."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._engine: AsyncEngine | None = None
        self._store: ReviewStore | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> ReviewStore:
        if self._store is None:
            async with self._lock:
                if self._store is None:
                    engine = store.open_engine(self._url)
                    try:
                        await store.migrate(engine)
                    except Exception as exc:
                        await engine.dispose()
                        raise ReviewStoreUnavailable(
                            f"the review database cannot be opened: {type(exc).__name__}"
                        ) from exc
                    self._engine, self._store = engine, ReviewStore(engine)
        return self._store

    @property
    def opened(self) -> ReviewStore | None:
        return self._store

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()


@dataclass(frozen=True)
class Security:
    """What the sign-in form checks keys with; `ring` is None when the service has no keys."""

    ring: KeyRing | None
    sessions: Sessions | None
    failures: FailedAttempts
    secure_cookies: bool


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    environment = Environment(
        loader=PackageLoader("attache.review", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["verbatim"] = verbatim
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def verbatim(text: str) -> Markup:
    """`text` escaped so the browser's text is exactly it: an HTML parser turns a written
    carriage return into a line feed, but keeps one given as a character reference. Evidence
    offsets and the offsets of a selection count the same characters."""
    return Markup(str(escape(text)).replace("\r", "&#13;"))  # noqa: S704 - escaped above


def csrf_config(secret: bytes, *, secure: bool) -> CSRFConfig:
    # Named after the secret: a token signed under another secret (a restart with a new one) is
    # not this cookie, so the browser gets a fresh one instead of a failing stale one.
    suffix = hashlib.sha256(secret).hexdigest()[:8]
    return CSRFConfig(
        secret=secret.hex(),
        cookie_name=f"attache_csrf_{suffix}",
        cookie_path="/review",
        cookie_secure=secure,
        cookie_httponly=True,
        cookie_samesite="strict",
        # The API authenticates by header, never by cookie: only the page's forms need tokens.
        exclude=["^/v1/", "^/health$", "^/ready$", "^/metrics$", "^/schema"],
    )


def static_files() -> ControllerRouterHandler:
    return create_static_files_router(
        path="/review/static", directories=[_STATIC], name="review-static",
        include_in_schema=False,
    )  # fmt: skip


# --- what the templates show -------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    view: RecordView
    record: Record
    actors: list[tuple[str, list[ActorMention]]]
    """Each actor field with its actors: ("participants", [...])."""
    facts: list[tuple[str, str]]
    """The plain fields that hold a value: ("status", "held")."""
    warnings: list[str]


def _card(view: RecordView, record: Record, warnings: list[str]) -> Card:
    actors: list[tuple[str, list[ActorMention]]] = []
    facts: list[tuple[str, str]] = []
    for field in forms.form_fields(view.record_type):
        value = getattr(record, field.name)
        if isinstance(value, ActorMention):
            actors.append((field.name, [value]))
        elif isinstance(value, list) and value and isinstance(value[0], ActorMention):
            actors.append((field.name, value))
        elif field.kind in ("text", "choice") and value is not None:
            facts.append((field.name, str(value)))
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            facts.append((field.name, "; ".join(value)))
    return Card(view, record, actors, facts, warnings)


def _article_context(view: ArticleView, **extra: Any) -> dict[str, Any]:
    warnings: dict[str, list[str]] = {}
    for warning in view.response.warnings:
        warnings.setdefault(warning.record_id or "", []).append(warning.message)
    cards = [_card(r, r.record, warnings.get(r.record_id, [])) for r in view.records if r.record]
    return {
        "view": view,
        "runs": runs(view.request.text, [card.record for card in cards]),
        "cards": cards,
        "types": list(RecordType),
        "decided": sum(r.state is not ReviewState.PENDING for r in view.records),
        "article_warnings": warnings.get("", []),
        **extra,
    }


def article_url(article_id: str, record_id: str | None = None) -> str:
    anchor = f"#card-{record_id}" if record_id else ""
    return f"/review/article?{urlencode({'id': article_id})}{anchor}"


def _is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def _who(request: Request[Any, Any, Any]) -> str | None:
    user = request.scope.get("user")
    return user if isinstance(user, str) else None


def _key(value: str) -> Key:
    try:
        return Key(value)
    except ValueError:
        raise InvalidRequest(f"key must be one of {', '.join(Key)}, not {value!r}") from None


async def _review_store(state: State) -> ReviewStore:
    holder: StoreHolder = state.review
    return await holder.get()


# --- forms -------------------------------------------------------------------------------


@dataclass
class ArticleForm:
    text: str = ""
    id: str = ""
    published_at: str = ""


@dataclass
class VerdictForm:
    article: str
    record: str
    verdict: str
    key: str = "form"


@dataclass
class AnchorForm:
    article: str
    record: str
    quote: str
    start: int
    end: int
    index: str = ""
    key: str = "form"


@dataclass
class UndoForm:
    article: str
    key: str = "u"


@dataclass
class SignInForm:
    key: str = ""
    next: str = "/review"


class ReviewController(Controller):
    path = "/review"
    include_in_schema = False  # HTML for people; the OpenAPI document describes the API
    response_headers = (
        ResponseHeader(name="Content-Security-Policy", value=CONTENT_SECURITY_POLICY),
        ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
        ResponseHeader(name="Referrer-Policy", value="same-origin"),
        ResponseHeader(name="Cache-Control", value="no-store"),
    )

    @get("/")
    async def queue(
        self,
        state: State,
        article_state: Annotated[ArticleState | None, QueryParameter(name="state")] = None,
        record_type: Annotated[RecordType | None, QueryParameter(name="type")] = None,
        record_state: Annotated[ReviewState | None, QueryParameter(name="record_state")] = None,
        page: Annotated[int, QueryParameter(ge=1)] = 1,
    ) -> Template:
        filters: dict[str, str] = {
            name: value
            for name, value in (("state", article_state), ("type", record_type),
                                ("record_state", record_state))
            if value is not None
        }  # fmt: skip
        return await _queue_page(await _review_store(state), filters, page)

    @post("/articles", status_code=303)
    async def submit(self, state: State, data: Annotated[ArticleForm, _FORM]) -> Response[Any]:
        """Extract the pasted article and open it; an id already in review is opened as it is
        when the text is the same, refused when it is not."""
        review = await _review_store(state)
        # A pasted article without an id is named after its text: pasted again, it is opened.
        # A browser sends a textarea's line breaks as CR LF whatever was pasted (HTML's form
        # submission); the article as pasted has the line breaks of the page it came from.
        text = data.text.replace("\r\n", "\n")
        article_id = data.id.strip() or f"pasted-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
        try:
            article = ExtractionRequest.model_validate(
                {
                    "text": text,
                    "id": article_id,
                    **({"published_at": data.published_at} if data.published_at else {}),
                }
            )
        except ValidationError as exc:
            problem = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'article'}: {e['msg']}" for e in exc.errors()
            )
            return await _queue_page(review, {}, 1, form=data, problem=problem, status=422)
        try:
            known = await review.article(article_id)
        except store.UnknownArticle:
            known = None
        if known is not None:
            if known.request.text != article.text:
                refused = ArticleInReview(f"{article_id!r} is in review with another text")
                return await _queue_page(
                    review, {}, 1, form=data, problem=f"{refused.title}: {refused.detail}",
                    status=refused.status,
                )  # fmt: skip
            return Redirect(article_url(article_id), status_code=303)
        extractor: Extractor = state.extractor
        admission: Admission = state.admission
        try:
            with admission.slot():
                response = await extractor.extract(article)
            await review.add_article(article, response)
        except AttacheError as exc:
            return await _queue_page(
                review, {}, 1, form=data, problem=f"{exc.title}: {exc.detail}", status=exc.status
            )
        except store.DuplicateArticle:
            pass  # pasted twice at once: the other paste put it in review
        return Redirect(article_url(article_id), status_code=303)

    @get("/article")
    async def article(
        self, state: State, article_id: Annotated[str, QueryParameter(name="id")]
    ) -> Template:
        view = await _view(await _review_store(state), article_id)
        return Template("article.html", context=_article_context(view))

    @post("/decide", status_code=303)
    async def decide(
        self, request: Request[Any, Any, Any], state: State, data: Annotated[VerdictForm, _FORM]
    ) -> Response[Any]:
        decision: Decision
        if data.verdict == "accept":
            decision = Accept(record_id=data.record)
        elif data.verdict == "reject":
            decision = Reject(record_id=data.record)
        else:
            raise InvalidRequest(f"verdict must be accept or reject, not {data.verdict!r}")
        return await _on_card(request, await _review_store(state), data.article, decision, data.key)

    @get("/edit")
    async def edit_form(
        self,
        state: State,
        article_id: Annotated[str, QueryParameter(name="article")],
        record_id: Annotated[str, QueryParameter(name="record")],
    ) -> Template:
        view = await _view(await _review_store(state), article_id)
        record = _record(view, record_id)
        assert record.record is not None  # noqa: S101 - `article` leaves withdrawn records out
        fields = forms.shown(record.record_type, record.record.model_dump(mode="json"))
        return _edit_page(view, record.record_type, record_id, fields, [], status=200)

    @post("/edit", status_code=303)
    async def edit(self, request: Request[Any, Any, Any], state: State) -> Response[Any]:
        form = await _form(request)
        article_id, record_id = form.get("article", ""), form.get("record", "")
        review = await _review_store(state)
        view = await _view(review, article_id)
        record_type = _record(view, record_id).record_type
        changes, unreadable = forms.parsed(record_type, form, published=_published(view))
        errors = unreadable
        if not errors:
            try:
                await _decide(
                    review,
                    article_id,
                    Edit(record_id=record_id, changes=changes),
                    _key(form.get("key", "form")),
                    _who(request),
                )
            except DecisionRefused as refused:
                errors = _field_errors(refused)
        if errors:
            fields, stray = forms.with_errors(record_type, form, errors)
            return _edit_page(
                view,
                record_type,
                record_id,
                fields,
                stray,
                status=422,
                htmx=_is_htmx(request),
                key=form.get("key", "form"),
            )
        return await _after(request, review, article_id, record_id)

    @post("/anchor", status_code=303)
    async def anchor(
        self, request: Request[Any, Any, Any], state: State, data: Annotated[AnchorForm, _FORM]
    ) -> Response[Any]:
        """Place a quote at the offsets the editor selected; the server checks the article
        holds exactly that text there."""
        review = await _review_store(state)
        index = int(data.index) if data.index.strip().isdigit() else None
        decision = Reanchor(
            record_id=data.record, index=index, quote=data.quote, start=data.start, end=data.end
        )
        return await _on_card(request, review, data.article, decision, data.key)

    @get("/add")
    async def add_form(
        self,
        state: State,
        article_id: Annotated[str, QueryParameter(name="article")],
        record_type: Annotated[RecordType, QueryParameter(name="type")],
        start: Annotated[int | None, QueryParameter()] = None,
        end: Annotated[int | None, QueryParameter()] = None,
    ) -> Template:
        """The form of a record the model missed; its evidence is the selected text."""
        view = await _view(await _review_store(state), article_id)
        text = view.request.text
        evidence = []
        if start is not None and end is not None and 0 <= start < end <= len(text):
            evidence = [{"quote": text[start:end], "start": start, "end": end,
                         "alignment": "exact"}]  # fmt: skip
        fields = forms.shown(record_type, {"evidence": evidence})
        return _edit_page(view, record_type, None, fields, [], status=200)

    @post("/add", status_code=303)
    async def add(self, request: Request[Any, Any, Any], state: State) -> Response[Any]:
        form = await _form(request)
        article_id = form.get("article", "")
        record_type = next((t for t in RecordType if t.value == form.get("type")), None)
        if record_type is None:
            raise InvalidRequest(f"type must be one of {', '.join(RecordType)}")
        review = await _review_store(state)
        view = await _view(review, article_id)
        values, errors = forms.parsed(record_type, form, published=_published(view))
        added: RecordView | None = None
        if not errors:
            try:
                added = await _decide(
                    review,
                    article_id,
                    Add(record_type=record_type, fields=values),
                    Key.FORM,
                    _who(request),
                )
            except DecisionRefused as refused:
                errors = _field_errors(refused)
        if added is None:
            fields, stray = forms.with_errors(record_type, form, errors)
            return _edit_page(
                view, record_type, None, fields, stray, status=422, htmx=_is_htmx(request)
            )
        return await _after(request, review, article_id, added.record_id)

    @post("/undo", status_code=303)
    async def undo(
        self, request: Request[Any, Any, Any], state: State, data: Annotated[UndoForm, _FORM]
    ) -> Response[Any]:
        review = await _review_store(state)
        try:
            restored = await review.undo(data.article, key=_key(data.key), who=_who(request))
        except store.UnknownArticle as exc:
            raise ReviewNotFound(str(exc)) from exc
        except store.NothingToUndo as exc:
            raise NothingToUndo(str(exc)) from exc
        return await _after(request, review, data.article, restored.record_id)

    @get("/export")
    async def export(self, state: State) -> Response[bytes]:
        """Every reviewed article as an eval fixture, zipped with `articles.jsonl`: unpacked,
        `attache eval run --articles articles.jsonl --fixtures fixtures` scores a model on it."""
        review = await _review_store(state)
        with tempfile.TemporaryDirectory(prefix="attache-gold-") as folder:
            done = await review.export_gold(Path(folder))
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in [done.articles, *done.fixtures]:
                    archive.write(path, path.relative_to(folder).as_posix())
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        return Response(
            buffer.getvalue(),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="attache-gold-{stamp}.zip"'},
        )

    @get("/sign-in")
    async def sign_in_form(
        self, next_path: Annotated[str, QueryParameter(name="next")] = "/review"
    ) -> Template:
        return Template("sign_in.html", context={"next": _local(next_path), "problem": None})

    @post("/sign-in", status_code=303)
    async def sign_in(
        self, request: Request[Any, Any, Any], state: State, data: Annotated[SignInForm, _FORM]
    ) -> Response[Any]:
        security: Security = state.security
        target = _local(data.next)
        if security.ring is None or security.sessions is None:
            return Redirect(target, status_code=303)  # no keys: nothing to sign in to
        address = request.client.host if request.client else "unknown"
        wait = await security.failures.retry_after_s(address)
        if wait is None and security.ring.holds(data.key.strip()):
            token = security.sessions.issue(fingerprint(data.key.strip()))
            return Redirect(target, cookies=[_session_cookie(token, security)], status_code=303)
        if wait is None:
            await security.failures.record(address)
        problem = (
            f"too many wrong keys from this address; retry in {wait} s"
            if wait is not None
            else "that is not a valid API key"
        )
        return Template(
            "sign_in.html",
            status_code=401 if wait is None else 429,
            context={"next": target, "problem": problem},
            headers={"Retry-After": str(wait)} if wait is not None else None,
        )

    @post("/sign-out", status_code=303)
    async def sign_out(self, state: State) -> Response[Any]:
        security: Security = state.security
        return Redirect(
            "/review/sign-in", cookies=[_session_cookie("", security, max_age=0)], status_code=303
        )


async def _queue_page(
    review: ReviewStore,
    filters: dict[str, str],
    page: int,
    *,
    form: ArticleForm | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Template:
    listed = await review.queue(
        state=ArticleState(filters["state"]) if "state" in filters else None,
        record_type=next((t for t in RecordType if t.value == filters.get("type")), None),
        record_state=ReviewState(filters["record_state"]) if "record_state" in filters else None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return Template(
        "queue.html",
        status_code=status,
        context={
            "queue": listed,
            "page": page,
            "pages": max(1, -(-listed.total // PAGE_SIZE)),
            "filters": filters,
            "query": lambda **more: urlencode({**filters, **more}),
            "article_states": list(ArticleState),
            "record_states": list(ReviewState),
            "types": list(RecordType),
            "adoption": await review.adoption(),
            "form": form or ArticleForm(),
            "problem": problem,
            "article_url": article_url,
        },
    )


def _session_cookie(token: str, security: Security, *, max_age: int | None = None) -> Cookie:
    lifetime = security.sessions.lifetime_s if security.sessions is not None else 0
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        path="/review",
        max_age=lifetime if max_age is None else max_age,
        secure=security.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def _local(target: str) -> str:
    """`target` if it is a page of the review, else the queue: never a redirect elsewhere."""
    if target.startswith("/review") and not target.startswith("//") and "\\" not in target:
        return target
    return "/review"


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _published(view: ArticleView) -> dt.date | None:
    published = view.request.published_at
    if isinstance(published, dt.datetime):
        return published.date()
    return published


async def _view(review: ReviewStore, article_id: str) -> ArticleView:
    try:
        return await review.article(article_id)
    except store.UnknownArticle as exc:
        raise ReviewNotFound(str(exc)) from exc


def _record(view: ArticleView, record_id: str) -> RecordView:
    for record in view.records:
        if record.record_id == record_id:
            return record
    raise ReviewNotFound(f"no record {record_id!r} in article {view.article_id!r}")


async def _decide(
    review: ReviewStore, article_id: str, decision: Decision, key: Key, who: str | None
) -> RecordView:
    try:
        return await review.decide(article_id, decision, key=key, who=who)
    except (store.UnknownArticle, store.UnknownRecord) as exc:
        raise ReviewNotFound(str(exc)) from exc
    except store.InvalidDecision as exc:
        raise DecisionRefused(
            str(exc), errors=[{"path": e.path, "message": e.message} for e in exc.errors]
        ) from exc


def _field_errors(refused: DecisionRefused) -> list[FieldError]:
    return [FieldError(e["path"], e["message"]) for e in refused.extra["errors"]]


async def _on_card(
    request: Request[Any, Any, Any],
    review: ReviewStore,
    article_id: str,
    decision: Accept | Reject | Reanchor,
    key: str,
) -> Response[Any]:
    """Apply a decision made on a record's card; when refused (an accept of a record that
    cannot stand as gold, a quote not at its offsets), the article again with the reasons on
    the card."""
    try:
        await _decide(review, article_id, decision, _key(key), _who(request))
    except DecisionRefused as refused:
        view = await _view(review, article_id)
        return _answer_page(view, decision.record_id, refused)
    return await _after(request, review, article_id, decision.record_id)


async def _after(
    request: Request[Any, Any, Any], review: ReviewStore, article_id: str, record_id: str
) -> Response[Any]:
    """After a decision: the article page itself for htmx (it swaps in what changed), a
    redirect to it for a plain form."""
    if _is_htmx(request):
        view = await _view(review, article_id)
        return Template(
            "article.html", context=_article_context(view, selected=record_id), status_code=200
        )
    return Redirect(article_url(article_id, record_id), status_code=303)


def _answer_page(view: ArticleView, record_id: str, refused: DecisionRefused) -> Template:
    """The article again, the refused decision's reasons on the record's card."""
    errors = _field_errors(refused)
    return Template(
        "article.html",
        status_code=refused.status,
        context=_article_context(view, selected=record_id, refused={record_id: errors}),
    )


def _edit_page(
    view: ArticleView,
    record_type: RecordType,
    record_id: str | None,
    fields: list[forms.FieldValue],
    stray: list[FieldError],
    *,
    status: int,
    htmx: bool = False,
    key: str = "form",
) -> Template:
    headers: dict[str, str] | None = None
    if htmx and status >= 400:
        # The form stays where it is, with its errors; success swaps the whole review.
        headers = {"HX-Retarget": "#edit-form", "HX-Reselect": "#edit-form",
                   "HX-Reswap": "outerHTML"}  # fmt: skip
    return Template(
        "edit.html",
        status_code=status,
        headers=headers,
        context={
            "view": view,
            "record_type": record_type,
            "record_id": record_id,
            "fields": fields,
            "stray": stray,
            "article_url": article_url,
            "key": key if key in set(Key) else "form",
        },
    )
