"""board: the board indexes carry category and kind, so the board's filters read no table rows

Revision ID: 20261123_board
Revises: 20261123_signals
Create Date: 2026-11-23 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261123_board"
down_revision: str | None = "20261123_signals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCOPES = ("merchant", "market", "unit")


def _rebuild(columns: list[str]) -> None:
    """Recreate the three board indexes over (scope, status, id) plus `columns`."""
    with op.batch_alter_table("complaint", schema=None) as batch_op:
        for scope in SCOPES:
            batch_op.drop_index(f"ix_complaint_{scope}_board")
            batch_op.create_index(
                f"ix_complaint_{scope}_board", [f"{scope}_id", "status", "id", *columns], unique=False
            )


def upgrade() -> None:
    """Append category and kind to the board indexes (after id, so the order stays id)."""
    _rebuild(["category", "kind"])


def downgrade() -> None:
    """Go back to (scope, status, id)."""
    _rebuild([])
