"""The review store: editors' decisions on extracted records, kept apart from the model's output.

    async with ReviewStore.open("sqlite:///~/.local/share/attache/review.db") as store:
        await store.add_article(request, response)
        await store.decide("reuters-8049", Accept(record_id="mtg-1"), key=Key.A, who="key-1")
        await store.undo("reuters-8049", who="key-1")
        view = await store.article("reuters-8049")

One database, opened by URL (`ATTACHE_DATABASE_URL`): SQLite by default, no setup; PostgreSQL
for replicas that share it. Opening migrates it to the newest schema (alembic, `migrations/`).

The model's output is stored once, as returned, and never changed. Each decision is appended to
the article's audit trail with the key that made it, who and when, and the record before and
after; an undo is one more entry, nothing is deleted. A record now is the model's record with
the decisions that are not undone applied in order. Decisions on one article are serialized (a
row lock on PostgreSQL, an immediate transaction on SQLite), so two at once both count.

Errors: `ReviewError` and its subclasses; a refused decision changes nothing.

    ReviewError
    ├── UnknownArticle       no article of that id in review
    ├── DuplicateArticle     an article of that id is in review already
    ├── InvalidArticle       the response does not fit the article (no id, spans off the text)
    ├── UnknownRecord        no record of that id in the article
    ├── InvalidDecision      the record would fail its schema; `errors` lists each field's reason
    │   └── EvidenceMismatch     a quote is not the article's text at its offsets
    └── NothingToUndo        the article has no decision left to undo
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from pydantic import ValidationError
from sqlalchemy import URL, Connection, case, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from attache.review import gold
from attache.review.decisions import (
    Accept,
    Action,
    Add,
    Adoption,
    ArticleState,
    ArticleView,
    AuditEntry,
    Decision,
    Edit,
    FieldError,
    Key,
    Origin,
    QueueEntry,
    QueuePage,
    Reanchor,
    RecordView,
    Reject,
    ReviewState,
    Tally,
    Verdict,
)
from attache.review.models import ArticleRow, DecisionRow, RecordRow
from attache.schemas import ExtractionRequest, ExtractionResponse, Record
from attache.schemas.common import Alignment, Evidence, RecordType
from attache.schemas.records import KIND_OF, RECORD_KINDS
from attache.settings import DEFAULT_DATABASE_URL

__all__ = [
    "DuplicateArticle",
    "EvidenceMismatch",
    "InvalidArticle",
    "InvalidDecision",
    "NothingToUndo",
    "ReviewError",
    "ReviewStore",
    "UnknownArticle",
    "UnknownRecord",
    "engine_url",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0
"""How long a SQLite transaction waits for another's write lock before it fails."""
_MIGRATION_LOCK = 0x61747461636865
"""The key of the PostgreSQL advisory lock that migrations hold: "attache" in ASCII."""
_DECIDED = (ReviewState.ACCEPTED, ReviewState.EDITED, ReviewState.REJECTED, ReviewState.ADDED)


class ReviewError(Exception):
    pass


class UnknownArticle(ReviewError):
    pass


class DuplicateArticle(ReviewError):
    pass


class InvalidArticle(ReviewError):
    pass


class UnknownRecord(ReviewError):
    pass


class InvalidDecision(ReviewError):
    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in self.errors))


class EvidenceMismatch(InvalidDecision):
    pass


class NothingToUndo(ReviewError):
    pass


_SQLITE_DRIVERS = {"sqlite", "sqlite+aiosqlite"}
_POSTGRES_DRIVERS = {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg_async"}


def engine_url(url: str) -> URL:
    """`url` with the async driver this store uses: aiosqlite or psycopg (3).

    A SQLite file's `~` is expanded and its folder created.
    """
    parsed = make_url(url)
    if parsed.drivername in _SQLITE_DRIVERS:
        if not parsed.database or parsed.database == ":memory:":
            # Every pooled connection would open a database of its own.
            raise ValueError(f"ATTACHE_DATABASE_URL {url!r}: SQLite needs a file, sqlite:///FILE")
        path = Path(parsed.database).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        return parsed.set(drivername="sqlite+aiosqlite", database=str(path))
    if parsed.drivername in _POSTGRES_DRIVERS:
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(
        f"ATTACHE_DATABASE_URL {parsed!r}: expected sqlite:///FILE or postgresql://HOST/DB"
    )


def open_engine(url: str) -> AsyncEngine:
    """An engine on `url` (see `engine_url`); on SQLite, every transaction takes the write lock."""
    connect_to = engine_url(url)
    if connect_to.get_backend_name() != "sqlite":
        return create_async_engine(connect_to, pool_pre_ping=True)
    engine = create_async_engine(connect_to, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver would begin transactions itself, deferred: `_begin` does it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        # A deferred transaction that reads and then writes fails at once ("database is locked")
        # when another wrote in between; IMMEDIATE takes the write lock first, so concurrent
        # decisions wait their turn (up to the busy timeout) the way PostgreSQL's row lock does.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas started together would each create the tables: one migrates while the
            # others wait, then find the schema at head.
            await connection.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
        await connection.run_sync(_upgrade)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ReviewStore:
    """Articles in review, the model's records, and the editors' decisions on them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str = DEFAULT_DATABASE_URL) -> AsyncIterator[ReviewStore]:
        """The store on the database at `url`, migrated; its connections closed on exit."""
        engine = open_engine(url)
        try:
            await migrate(engine)
            yield cls(engine)
        finally:
            await engine.dispose()

    async def add_article(self, request: ExtractionRequest, response: ExtractionResponse) -> str:
        """Put an article and the model's response to it in review; returns the article's id."""
        article_id = request.id or response.id
        if article_id is None:
            raise InvalidArticle("an article in review needs an id: set the request's id")
        if response.id not in (None, article_id):
            raise InvalidArticle(f"the response is for {response.id!r}, not {article_id!r}")
        for record in response.records:
            for evidence in record.evidence:
                if evidence.end is not None and evidence.end > len(request.text):
                    raise InvalidArticle(
                        f"{record.id}'s evidence ends at {evidence.end}, past the article's "
                        f"{len(request.text)} characters: is this the response to this article?"
                    )
        try:
            async with self._sessions.begin() as session:
                session.add(
                    ArticleRow(
                        id=article_id,
                        request=request.model_copy(update={"id": article_id}).model_dump(
                            mode="json", exclude_defaults=True
                        ),
                        response=response.model_dump(mode="json"),
                        added_at=_now(),
                    )
                )
                session.add_all(
                    RecordRow(
                        article_id=article_id,
                        record_id=record.id,
                        position=position,
                        record_type=record.record_type,
                        origin=Origin.MODEL,
                        state=ReviewState.PENDING,
                        verdict=None,
                        current=record.model_dump(mode="json"),
                    )
                    for position, record in enumerate(response.records)
                )
        except IntegrityError as exc:
            raise DuplicateArticle(f"article {article_id!r} is in review already") from exc
        return article_id

    async def decide(
        self, article_id: str, decision: Decision, *, key: Key, who: str | None = None
    ) -> RecordView:
        """Record `decision` on a record of the article; returns the record's new state.

        Raises `UnknownRecord`, or `InvalidDecision` (with each field's reason) for a change
        that would leave the record invalid, in which case nothing is recorded.
        """
        async with self._sessions.begin() as session:
            article = await _locked(session, article_id)
            rows = await _record_rows(session, article_id)
            model = _model_records(article.response)
            if isinstance(decision, Add):
                row = _new_row(article_id, decision.record_type, rows)
                before = None
                after = _snapshot(Verdict.KEPT, _added(decision, row, article, rows))
                session.add(row)
                action = Action.ADD
            else:
                row, current = _existing(rows, article_id, decision.record_id)
                before = _snapshot(row.verdict, current)
                after = _decided(decision, row.record_type, current, article, rows)
                action = _ACTIONS[type(decision)]
            await _append(
                session,
                row,
                action=action,
                key=key,
                who=who,
                before=before,
                after=after,
                undoes=None,
            )
            _set_state(row, after, model.get(row.record_id))
            return _record_view(row, model.get(row.record_id))

    async def undo(
        self, article_id: str, *, key: Key = Key.U, who: str | None = None
    ) -> RecordView:
        """Reverse the article's latest decision not undone yet, recording the undo itself.

        Returns the record it restored (WITHDRAWN when the undone decision added it); raises
        `NothingToUndo` when every decision is undone.
        """
        async with self._sessions.begin() as session:
            article = await _locked(session, article_id)
            undone = select(DecisionRow.undoes).where(
                DecisionRow.article_id == article_id, DecisionRow.undoes.is_not(None)
            )
            target = await session.scalar(
                select(DecisionRow)
                .where(
                    DecisionRow.article_id == article_id,
                    DecisionRow.action != Action.UNDO,
                    DecisionRow.id.not_in(undone),
                )
                .order_by(DecisionRow.seq.desc())
                .limit(1)
            )
            if target is None:
                raise NothingToUndo(f"article {article_id!r} has no decision to undo")
            row = (await _record_rows(session, article_id))[target.record_id]
            # The target is the article's latest effective decision, so its record is now as
            # that decision left it, and its `before` is the state to return to.
            await _append(
                session,
                row,
                action=Action.UNDO,
                key=key,
                who=who,
                before=target.after,
                after=target.before,
                undoes=target.id,
            )
            model = _model_records(article.response).get(row.record_id)
            _set_state(row, target.before, model)
            return _record_view(row, model)

    async def article(self, article_id: str) -> ArticleView:
        """The article, the model's response, and each of its records now."""
        async with self._sessions() as session:
            article = await session.get(ArticleRow, article_id)
            if article is None:
                raise UnknownArticle(f"no article {article_id!r} in review")
            rows = await _record_rows(session, article_id)
        model = _model_records(article.response)
        records = [
            _record_view(row, model.get(row.record_id))
            for row in rows.values()
            if row.state is not ReviewState.WITHDRAWN
        ]
        decided = sum(record.state in _DECIDED for record in records)
        return ArticleView(
            article_id=article.id,
            request=ExtractionRequest.model_validate(article.request),
            response=ExtractionResponse.model_validate(article.response),
            records=records,
            state=_article_state(decided, len(records)),
            added_at=article.added_at,
        )

    async def queue(
        self,
        *,
        state: ArticleState | None = None,
        record_type: RecordType | None = None,
        record_state: ReviewState | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> QueuePage:
        """Articles in review, oldest first, with their state and progress.

        `state` keeps articles in that state; `record_type` and `record_state` keep articles
        with a record of that type, in that state (either alone, or both on the same record).
        """
        present = case((RecordRow.state != ReviewState.WITHDRAWN, 1), else_=0)
        decided = case((RecordRow.state.in_(_DECIDED), 1), else_=0)
        summary = (
            select(
                ArticleRow.id,
                ArticleRow.added_at,
                func.coalesce(func.sum(present), 0).label("records"),
                func.coalesce(func.sum(decided), 0).label("decided"),
            )
            .outerjoin(RecordRow, RecordRow.article_id == ArticleRow.id)
            .group_by(ArticleRow.id, ArticleRow.added_at)
        )
        if record_type is not None or record_state is not None:
            matching = select(RecordRow.article_id).where(RecordRow.state != ReviewState.WITHDRAWN)
            if record_type is not None:
                matching = matching.where(RecordRow.record_type == record_type)
            if record_state is not None:
                matching = matching.where(RecordRow.state == record_state)
            summary = summary.where(ArticleRow.id.in_(matching))
        counted = summary.subquery()
        chosen = select(counted)
        if state is ArticleState.UNREVIEWED:
            chosen = chosen.where(counted.c.decided == 0)
        elif state is ArticleState.IN_PROGRESS:
            chosen = chosen.where(counted.c.decided > 0, counted.c.decided < counted.c.records)
        elif state is ArticleState.REVIEWED:
            chosen = chosen.where(counted.c.decided > 0, counted.c.decided == counted.c.records)
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(chosen.subquery()))
            page = await session.execute(
                chosen.order_by(counted.c.added_at, counted.c.id).limit(limit).offset(offset)
            )
        entries = [
            QueueEntry(
                article_id=line.id,
                state=_article_state(line.decided, line.records),
                decided=line.decided,
                records=line.records,
                added_at=line.added_at,
            )
            for line in page
        ]
        return QueuePage(entries=entries, total=total or 0)

    async def history(self, article_id: str) -> list[AuditEntry]:
        """The article's audit trail, in the order the decisions were applied."""
        async with self._sessions() as session:
            if await session.get(ArticleRow, article_id) is None:
                raise UnknownArticle(f"no article {article_id!r} in review")
            rows = await session.scalars(
                select(DecisionRow)
                .where(DecisionRow.article_id == article_id)
                .order_by(DecisionRow.seq)
            )
            return [
                AuditEntry(
                    id=row.id,
                    seq=row.seq,
                    record_id=row.record_id,
                    action=row.action,
                    key=row.key,
                    who=row.who,
                    at=row.at,
                    before=row.before,
                    after=row.after,
                    undoes=row.undoes,
                )
                for row in rows
            ]

    async def tally(self) -> Tally:
        """How many records of each type, origin and state are in review."""
        query = select(
            RecordRow.record_type, RecordRow.origin, RecordRow.state, func.count()
        ).group_by(RecordRow.record_type, RecordRow.origin, RecordRow.state)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return {(kind, origin, state): count for kind, origin, state, count in rows}

    async def adoption(self, record_type: RecordType | None = None) -> Adoption:
        """Of the model's records in review, those accepted unchanged, decided, and in all."""
        return Adoption.of(await self.tally(), record_type)

    async def reviewed(self) -> AsyncIterator[ArticleView]:
        """Every reviewed article (each record decided), oldest first."""
        offset = 0
        while entries := (
            await self.queue(state=ArticleState.REVIEWED, limit=100, offset=offset)
        ).entries:
            for entry in entries:
                yield await self.article(entry.article_id)
            offset += len(entries)

    async def export_gold(self, folder: Path) -> gold.Export:
        """Write the reviewed articles as eval fixtures; see `attache.review.gold.export`."""
        return await gold.export(self, folder)


_ACTIONS: dict[type[Decision], Action] = {
    Accept: Action.ACCEPT,
    Reject: Action.REJECT,
    Edit: Action.EDIT,
    Reanchor: Action.REANCHOR,
}


async def _locked(session: AsyncSession, article_id: str) -> ArticleRow:
    # Each decision reads a record's state and the trail's last `seq`, then writes: two at once
    # on one article would read the same, and one would be lost or collide. The lock queues them
    # (SQLite ignores FOR UPDATE; its transactions begin IMMEDIATE, which does the same).
    article = await session.scalar(
        select(ArticleRow).where(ArticleRow.id == article_id).with_for_update()
    )
    if article is None:
        raise UnknownArticle(f"no article {article_id!r} in review")
    return article


def _existing(
    rows: Mapping[str, RecordRow], article_id: str, record_id: str
) -> tuple[RecordRow, dict[str, Any]]:
    row = rows.get(record_id)
    if row is None or row.current is None:
        raise UnknownRecord(f"article {article_id!r} has no record {record_id}")
    return row, row.current


async def _record_rows(session: AsyncSession, article_id: str) -> dict[str, RecordRow]:
    rows = await session.scalars(
        select(RecordRow).where(RecordRow.article_id == article_id).order_by(RecordRow.position)
    )
    return {row.record_id: row for row in rows}


async def _append(
    session: AsyncSession,
    row: RecordRow,
    *,
    action: Action,
    key: Key,
    who: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    undoes: int | None,
) -> None:
    last = await session.scalar(
        select(func.max(DecisionRow.seq)).where(DecisionRow.article_id == row.article_id)
    )
    session.add(
        DecisionRow(
            article_id=row.article_id,
            seq=(last or 0) + 1,
            record_id=row.record_id,
            action=action,
            key=key,
            who=who,
            at=_now(),
            before=before,
            after=after,
            undoes=undoes,
        )
    )


def _model_records(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {record["id"]: record for kind in RECORD_KINDS for record in response[kind.field]}


def _snapshot(verdict: Verdict | None, record: dict[str, Any]) -> dict[str, Any]:
    return {"verdict": verdict, "record": record}


def _set_state(
    row: RecordRow, snapshot: dict[str, Any] | None, model: dict[str, Any] | None
) -> None:
    if snapshot is None:
        row.verdict, row.current, row.state = None, None, ReviewState.WITHDRAWN
        return
    row.verdict = None if snapshot["verdict"] is None else Verdict(snapshot["verdict"])
    row.current = snapshot["record"]
    if row.verdict is None:
        row.state = ReviewState.PENDING
    elif row.verdict is Verdict.REJECTED:
        row.state = ReviewState.REJECTED
    elif row.origin is Origin.ADDED:
        row.state = ReviewState.ADDED
    else:
        row.state = ReviewState.ACCEPTED if row.current == model else ReviewState.EDITED


def _record_view(row: RecordRow, model: dict[str, Any] | None) -> RecordView:
    cls = KIND_OF[row.record_type].record
    return RecordView(
        record_id=row.record_id,
        record_type=row.record_type,
        origin=row.origin,
        state=row.state,
        record=None if row.current is None else cls.model_validate(row.current),
        model=None if model is None else cls.model_validate(model),
    )


def _article_state(decided: int, records: int) -> ArticleState:
    if decided == 0:
        return ArticleState.UNREVIEWED
    return ArticleState.REVIEWED if decided == records else ArticleState.IN_PROGRESS


def _new_row(article_id: str, record_type: RecordType, rows: Mapping[str, RecordRow]) -> RecordRow:
    # Ids are never reused, not even a withdrawn record's: the trail names one record by each.
    prefix = f"{record_type.id_prefix}-"
    taken = [int(rid.removeprefix(prefix)) for rid in rows if rid.startswith(prefix)]
    return RecordRow(
        article_id=article_id,
        record_id=f"{prefix}{max(taken, default=0) + 1}",
        position=max((row.position for row in rows.values()), default=-1) + 1,
        record_type=record_type,
        origin=Origin.ADDED,
        state=ReviewState.WITHDRAWN,  # until `_set_state`: it exists once the add is recorded
        verdict=None,
        current=None,
    )


def _added(
    decision: Add, row: RecordRow, article: ArticleRow, rows: Mapping[str, RecordRow]
) -> dict[str, Any]:
    if "id" in decision.fields:
        raise InvalidDecision([FieldError("id", "the store gives an added record its id")])
    return _validated(
        row.record_type,
        {**decision.fields, "id": row.record_id},
        text=article.request["text"],
        known_evidence=[],
        rows=rows,
    )


def _decided(
    decision: Accept | Reject | Edit | Reanchor,
    record_type: RecordType,
    current: dict[str, Any],
    article: ArticleRow,
    rows: Mapping[str, RecordRow],
) -> dict[str, Any]:
    known = [Evidence.model_validate(e) for e in current["evidence"]]
    match decision:
        case Accept():
            # The record is valid as it is; this checks it can stand as gold (anchored evidence,
            # links to records that exist).
            record = _validated(
                record_type, current, text=article.request["text"], known_evidence=known, rows=rows
            )
            return _snapshot(Verdict.KEPT, record)
        case Reject():
            return _snapshot(Verdict.REJECTED, current)
        case Edit(changes=changes):
            if changes.get("id", current["id"]) != current["id"]:
                raise InvalidDecision([FieldError("id", "a record keeps its id")])
            record = _validated(
                record_type,
                {**current, **changes},
                text=article.request["text"],
                known_evidence=known,
                rows=rows,
            )
            return _snapshot(Verdict.KEPT, record)
        case Reanchor(index=index, quote=quote, start=start, end=end):
            evidence = list(current["evidence"])
            if index is not None and not 0 <= index < len(evidence):
                raise InvalidDecision(
                    [FieldError("evidence", f"no evidence {index}: the record has {len(evidence)}")]
                )
            at = len(evidence) if index is None else index
            problem = _misplaced(quote, start, end, article.request["text"])
            if problem:
                raise EvidenceMismatch([FieldError(f"evidence.{at}", problem)])
            placed = {"quote": quote, "start": start, "end": end, "alignment": Alignment.EXACT}
            if index is None:
                evidence.append(placed)
            else:
                evidence[index] = placed
            record = _validated(
                record_type,
                {**current, "evidence": evidence},
                text=article.request["text"],
                known_evidence=known,
                rows=rows,
            )
            return _snapshot(Verdict.KEPT, record)


def _misplaced(quote: str, start: int | None, end: int | None, article: str) -> str | None:
    """Why `quote` is not the article's text at start:end, or None when it is."""
    if start is None or end is None:
        return "a quote an editor places needs its offsets, start and end"
    if not 0 <= start < end <= len(article):
        return f"offsets {start}:{end} are not inside the article ({len(article)} characters)"
    if article[start:end] != quote:
        return f"the article has {article[start:end][:80]!r} at {start}:{end}, not the quote"
    return None


def _validated(
    record_type: RecordType,
    data: Mapping[str, Any],
    *,
    text: str,
    known_evidence: list[Evidence],
    rows: Mapping[str, RecordRow],
) -> dict[str, Any]:
    """`data` as a record of its type, as JSON, or `InvalidDecision` with each field's reason.

    Beyond the API's schema: a quote not in `known_evidence` (the record's until now) stands
    verbatim at its offsets, one quote at least is anchored, and links point at records of the
    article.
    """
    try:
        record: Record = KIND_OF[record_type].record.model_validate(data)
    except ValidationError as exc:
        raise InvalidDecision(
            FieldError(".".join(map(str, error["loc"])) or "record", error["msg"])
            for error in exc.errors()
        ) from exc
    misplaced = [
        FieldError(f"evidence.{i}", problem)
        for i, evidence in enumerate(record.evidence)
        if evidence not in known_evidence
        and (
            problem := (
                _misplaced(evidence.quote, evidence.start, evidence.end, text)
                or (None if evidence.alignment is Alignment.EXACT else "a placed quote is exact")
            )
        )
    ]
    if misplaced:
        raise EvidenceMismatch(misplaced)
    errors: list[FieldError] = []
    if all(evidence.start is None for evidence in record.evidence):
        errors.append(FieldError("evidence", "no quote is anchored in the article: re-anchor one"))
    present = {rid for rid, row in rows.items() if row.current is not None}
    errors += [
        FieldError(f"links.{i}.target", f"{link.target} is not another record of this article")
        for i, link in enumerate(record.links)
        if link.target not in present or link.target == record.id
    ]
    if errors:
        raise InvalidDecision(errors)
    return record.model_dump(mode="json")
