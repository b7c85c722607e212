"""Alembic's environment for the review store's migrations.

`ReviewStore.open` migrates on open and hands its connection over in `config.attributes`. The
`alembic` command (run at the repository's root, where pyproject.toml configures it) connects to
`ATTACHE_DATABASE_URL` itself, to write a new revision once models.py has changed:

    ATTACHE_DATABASE_URL=sqlite:////tmp/review.db .venv/bin/alembic upgrade head
    ATTACHE_DATABASE_URL=sqlite:////tmp/review.db .venv/bin/alembic revision --autogenerate -m "..."
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection

from attache.review.models import Base
from attache.review.store import open_engine
from attache.settings import DEFAULT_DATABASE_URL


def _run(connection: Connection) -> None:
    # Batch mode: SQLite alters a table by copying it, which a plain ALTER cannot express.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_configured_database() -> None:
    engine = open_engine(os.environ.get("ATTACHE_DATABASE_URL", DEFAULT_DATABASE_URL))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if (shared := context.config.attributes.get("connection")) is not None:
    _run(shared)
else:
    asyncio.run(_run_on_configured_database())
