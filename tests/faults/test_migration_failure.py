"""A migration that fails halfway rolls back, and the app refuses the mismatched schema."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from portal.migrate import MIGRATIONS, SchemaMismatchError, alembic_config, check_at_head, upgrade

BROKEN = '''"""a migration that breaks halfway through"""

import sqlalchemy as sa
from alembic import op

revision = "zz_broken"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))
    op.add_column("complaint", sa.Column("half_column", sa.Integer))
    raise RuntimeError("disk full, say")


def downgrade():
    pass
'''


def test_failed_migration_rolls_back_and_app_refuses(database_url: str, tmp_path: Path) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    (scripts / "versions" / "zz_broken.py").write_text(BROKEN.format(head=head))

    with pytest.raises(RuntimeError, match="disk full"):
        upgrade(database_url, migrations=scripts)

    engine = create_engine(database_url)
    inspector = inspect(engine)
    assert "half_done" not in inspector.get_table_names()
    assert "half_column" not in {c["name"] for c in inspector.get_columns("complaint")}
    check_at_head(engine, database_url)  # still exactly the previous, consistent schema
    with pytest.raises(SchemaMismatchError, match="kuaisu db upgrade"):
        check_at_head(engine, database_url, migrations=scripts)
    engine.dispose()
