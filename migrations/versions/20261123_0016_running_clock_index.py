"""running clocks by deadline: a partial index, so SQLite stops walking it for one case's clocks

Revision ID: 20261123_running_index
Revises: 20261123_facts_queue
Create Date: 2026-11-23 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_running_index"
down_revision: str | None = "20261123_facts_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("stopped_at IS NULL")


def upgrade() -> None:
    """Replace (stopped_at, due_at) by due_at over running clocks only."""
    op.drop_index("ix_stage_clock_running_due", table_name="stage_clock")
    op.create_index(
        "ix_stage_clock_running_due",
        "stage_clock",
        ["due_at"],
        sqlite_where=RUNNING,
        postgresql_where=RUNNING,
    )


def downgrade() -> None:
    """Put the two-column index back."""
    op.drop_index("ix_stage_clock_running_due", table_name="stage_clock")
    op.create_index("ix_stage_clock_running_due", "stage_clock", ["stopped_at", "due_at"])
