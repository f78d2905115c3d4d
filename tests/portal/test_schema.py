"""The migrated schema equals the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from portal.db import Base


def test_migrations_match_models(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_events_are_append_only(session, factory) -> None:  # type: ignore[no-untyped-def]
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    receipt = factory.make_complaint()
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text("UPDATE event SET body = 'x' WHERE complaint_id = :c"),
                        {"c": receipt.complaint.id})
    session.rollback()
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text("DELETE FROM event"))
    session.rollback()
