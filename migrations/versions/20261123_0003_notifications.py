"""notifications: a delivery goes to a channel or to one staff member's email

Revision ID: 20261123_notify
Revises: 20261122_0002
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_notify"
down_revision: str | None = "20261122_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Let a delivery name a staff user instead of a channel; index per-channel health."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch_op.alter_column("channel_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(
            op.f("fk_delivery_user_id_staff_user"), "staff_user", ["user_id"], ["id"]
        )
        batch_op.create_check_constraint(
            op.f("ck_delivery_one_recipient"), "(channel_id IS NULL) <> (user_id IS NULL)"
        )
        batch_op.create_index("ix_delivery_channel_status", ["channel_id", "status"], unique=False)


def downgrade() -> None:
    """Drop staff-user deliveries (they cannot exist without a channel) and the column."""
    op.execute("DELETE FROM delivery WHERE channel_id IS NULL")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_channel_status")
        batch_op.drop_constraint(op.f("ck_delivery_one_recipient"), type_="check")
        batch_op.drop_constraint(op.f("fk_delivery_user_id_staff_user"), type_="foreignkey")
        batch_op.alter_column("channel_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("user_id")
