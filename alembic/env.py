"""Alembic environment: async engine from the URL the app (or `sparring migrate`) sets.

Migrations take a PostgreSQL advisory lock, so several workers starting at once migrate once.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import context
from server.db.models import Base
import server.conversation.models  # noqa: F401  (registers the conversation tables)
from server.rag import models as _rag_models  # noqa: F401  (registers the document tables)
import server.recording.models  # noqa: F401  (registers the voice recording table)
import server.training.models  # noqa: F401  (registers the rubric and scenario tables)
import server.training.builder.models  # noqa: F401  (registers the builder session table)
import server.avatar.models  # noqa: F401  (registers the avatar usage table)
import server.mail.models  # noqa: F401  (registers the email outbox)
import server.practice.models  # noqa: F401  (registers teams, programmes, assignments, certifications)
import server.insight.models  # noqa: F401  (registers the per-session insight summary)
import server.review.models  # noqa: F401  (registers the review queue)
import server.webhooks.models  # noqa: F401  (registers the webhook endpoints and deliveries)

MIGRATION_LOCK_ID = 0x5A5B_0001

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    try:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()


async def _run_async() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
