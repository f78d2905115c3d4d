"""stage clocks: one row per running clock with its next card, and the ladder's stamps

Revision ID: 20261123_clocks
Revises: 20261123_insight
Create Date: 2026-11-23 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_clocks"
down_revision: str | None = "20261123_insight"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add stage_clock (the sweep's work list) and the ladder columns of complaint."""
    op.create_table(
        "stage_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=24), nullable=False),
        sa.Column("rung", sa.String(length=12), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("reminder_at", sa.DateTime(), nullable=False),
        sa.Column("urge_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("next_card_at", sa.DateTime(), nullable=True),
        sa.Column("next_card", sa.String(length=12), nullable=True),
        sa.Column("paused_since", sa.DateTime(), nullable=True),
        sa.Column("paused_seconds", sa.Integer(), nullable=False),
        sa.Column("extended", sa.Boolean(), nullable=False),
        sa.Column("fallback_used", sa.Boolean(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.Column("stop_reason", sa.String(length=24), nullable=True),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaint.id"], name=op.f("fk_stage_clock_complaint_id_complaint")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_clock")),
    )
    with op.batch_alter_table("stage_clock", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stage_clock_complaint_id"), ["complaint_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stage_clock_next_card_at"), ["next_card_at"], unique=False)
        batch_op.create_index("ix_stage_clock_fallback", ["fallback_used", "stopped_at"], unique=False)
    with op.batch_alter_table("complaint", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("escalation_cause", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("returned_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("identity_requested_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("accepted_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    """Drop the ladder columns and the clocks."""
    with op.batch_alter_table("complaint", schema=None) as batch_op:
        batch_op.drop_column("accepted_at")
        batch_op.drop_column("identity_requested_at")
        batch_op.drop_column("returned_at")
        batch_op.drop_column("escalation_cause")
        batch_op.drop_column("escalated_at")
    with op.batch_alter_table("stage_clock", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_clock_fallback")
        batch_op.drop_index(batch_op.f("ix_stage_clock_next_card_at"))
        batch_op.drop_index(batch_op.f("ix_stage_clock_complaint_id"))
    op.drop_table("stage_clock")
