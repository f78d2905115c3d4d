"""insight speed: covering indexes for ranking a subtree's shops

Revision ID: 20261123_insight_speed
Revises: 20261123_flags
Create Date: 2026-11-23 07:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261123_insight_speed"
down_revision: str | None = "20261123_flags"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Rank a subtree's shops from narrow index entries (index-only scans on PostgreSQL)."""
    op.create_index("ix_shop_day_rank", "insight_shop_day", ["unit_id", "day", "merchant_id", "valid"])
    op.create_index("ix_shop_month_rank", "insight_shop_month", ["unit_id", "month", "merchant_id", "valid"])


def downgrade() -> None:
    """Drop the ranking indexes."""
    op.drop_index("ix_shop_month_rank", table_name="insight_shop_month")
    op.drop_index("ix_shop_day_rank", table_name="insight_shop_day")
