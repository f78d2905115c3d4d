"""flags: the stored repeat-phone flag and its partial board indexes

Revision ID: 20261123_flags
Revises: 20261123_running_index
Create Date: 2026-11-23 16:00:00

The column starts false everywhere; `kuaisu signals reflag` then flags the cases already
stored (one pass over every number's cases), as `kuaisu insight rebuild` fills the facts.
New cases are flagged as they arrive.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_flags"
down_revision: str | None = "20261123_running_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCOPES = ("merchant", "market", "unit")


def upgrade() -> None:
    """Add the flag and one partial index per scope.

    A plain ADD COLUMN with a constant default rewrites no rows on either database; batch
    mode would copy the whole complaint table on SQLite (minutes at a million cases).
    """
    op.add_column(
        "complaint", sa.Column("repeat_phone_flag", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    for scope in SCOPES:
        op.create_index(
            f"ix_complaint_{scope}_flagged",
            "complaint",
            [f"{scope}_id", "status", "id", "category", "kind"],
            unique=False,
            sqlite_where=sa.text("repeat_phone_flag = 1"),
            postgresql_where=sa.text("repeat_phone_flag"),
        )


def downgrade() -> None:
    """Drop the indexes and the flag."""
    for scope in SCOPES:
        op.drop_index(f"ix_complaint_{scope}_flagged", table_name="complaint")
    with op.batch_alter_table("complaint") as batch_op:
        batch_op.drop_column("repeat_phone_flag")
