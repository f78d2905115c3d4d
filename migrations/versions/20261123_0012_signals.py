"""signals: one phone's cases by time and by shop (repeat phones, duplicates), linked duplicates

Revision ID: 20261123_signals
Revises: 20261123_clocks
Create Date: 2026-11-23 15:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261123_signals"
down_revision: str | None = "20261123_clocks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("ix_complaint_phone_created", ["phone", "created_at"]),
    ("ix_complaint_phone_merchant", ["phone", "merchant_id", "created_at"]),
    ("ix_complaint_linked_to", ["linked_to_id"]),
]


def upgrade() -> None:
    """Replace the phone index by (phone, created_at), which serves the phone search too."""
    with op.batch_alter_table("complaint") as batch_op:
        batch_op.drop_index("ix_complaint_phone")
        for name, columns in INDEXES:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    """Put the single-column phone index back."""
    with op.batch_alter_table("complaint") as batch_op:
        for name, _columns in reversed(INDEXES):
            batch_op.drop_index(name)
        batch_op.create_index("ix_complaint_phone", ["phone"], unique=False)
