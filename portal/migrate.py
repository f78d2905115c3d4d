"""Alembic driven from Python, so `kuaisu db upgrade` needs no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

import portal.models  # noqa: F401  (fills the metadata the check compares against)
from portal.db import Base

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class SchemaMismatchError(RuntimeError):
    """The database is not at the migration head the code expects."""


def alembic_config(url: str, migrations: Path = MIGRATIONS) -> Config:
    """Build an Alembic config pointing at migrations/ and the given database."""
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head", migrations: Path = MIGRATIONS) -> None:
    """Migrate the database to a revision, each migration in its own transaction."""
    command.upgrade(alembic_config(url, migrations), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database down to a revision."""
    command.downgrade(alembic_config(url), revision)


def check_at_head(engine: Engine, url: str, migrations: Path = MIGRATIONS) -> None:
    """Refuse to serve on a database that is not at the head revision."""
    heads = set(ScriptDirectory.from_config(alembic_config(url, migrations)).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current != heads:
        raise SchemaMismatchError(
            f"The database schema is at {sorted(current) or 'nothing'} but this code needs "
            f"{sorted(heads)}. Run `kuaisu db upgrade` first."
        )
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    if diff:
        raise SchemaMismatchError(
            f"The database schema does not match the models ({len(diff)} differences, first: "
            f"{diff[0]!r}). Restore a backup or run `kuaisu db upgrade`."
        )
