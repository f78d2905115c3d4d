"""facts queue: cases changed since their facts were measured, caught up outside the change

Revision ID: 20261123_facts_queue
Revises: 20261123_facts
Create Date: 2026-11-23 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_facts_queue"
down_revision: str | None = "20261123_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the empty queue: the facts stood measured up to this revision."""
    op.create_table(
        "case_fact_queue",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_case_fact_queue")),
    )


def downgrade() -> None:
    """Drop the queue; run `kuaisu insight rebuild` after, the old code measures in place."""
    op.drop_table("case_fact_queue")
