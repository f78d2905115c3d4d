"""insight facts: each case's settled facts and daily sums of every case set

Revision ID: 20261123_facts
Revises: 20261123_board
Create Date: 2026-11-23 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_facts"
down_revision: str | None = "20261123_board"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of portal.models.facts.COUNT_COLUMNS as of this revision.
COUNTS = [
    "received", "hidden", "valid", "accepted", "complaints", "reports", "closed", "open_new",
    "open_handling", "overdue", "respond_due", "respond_on_time", "respond_late", "onsite_due",
    "onsite_on_time", "onsite_late", "feedback_due", "feedback_on_time", "feedback_late",
    "with_outcome", "self_settled", "mediated", "failed", "not_accepted", "mediation_ended", "rated",
    "recovered", "escalated_station", "escalated_regulator", "decided_respond", "decided_onsite",
    "decided_feedback", "decided_tell_return", "decided_accept", "decided_mediation",
    "decided_termination_notice", "decided_verify", "late_respond", "late_onsite", "late_feedback",
    "late_tell_return", "late_accept", "late_mediation", "late_termination_notice", "late_verify",
    "ontime_respond", "ontime_onsite", "ontime_feedback", "ontime_tell_return", "ontime_accept",
    "ontime_mediation", "ontime_termination_notice", "ontime_verify", "late_any", "closed_late",
    "closed_on_time", "extended", "satisfaction_sum", "recovered_fen",
]  # fmt: skip


def _int(name: str, **kw: bool) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False, autoincrement=False, **kw)


def _counts() -> list[sa.Column[int]]:
    return [_int(name) for name in COUNTS]


def upgrade() -> None:
    """Create case_fact and the day tables; `kuaisu insight rebuild` fills them."""
    op.create_table(
        "case_fact",
        _int("complaint_id"),
        sa.Column("day", sa.String(length=10), nullable=False),
        _int("unit_id"),
        _int("market_id"),
        _int("merchant_id"),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        *[
            _int(name)
            for name in ("visible", "signature", "clocks", "escalations", "satisfaction", "recovered_fen")
        ],
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_case_fact")),
    )
    op.create_table(
        "insight_shop_day",
        _int("unit_id"),
        sa.Column("day", sa.String(length=10), nullable=False),
        _int("merchant_id"),
        _int("market_id"),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        _int("visible"),
        *_counts(),
        sa.PrimaryKeyConstraint(
            "unit_id",
            "day",
            "merchant_id",
            "market_id",
            "category",
            "kind",
            "visible",
            name=op.f("pk_insight_shop_day"),
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "insight_unit_day",
        _int("unit_id"),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        *_counts(),
        sa.PrimaryKeyConstraint("unit_id", "category", "day", "kind", name=op.f("pk_insight_unit_day")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "insight_unit_month",
        _int("unit_id"),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        *_counts(),
        sa.PrimaryKeyConstraint("unit_id", "category", "month", "kind", name=op.f("pk_insight_unit_month")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "insight_shop_month",
        _int("unit_id"),
        sa.Column("month", sa.String(length=7), nullable=False),
        _int("merchant_id"),
        sa.Column("kind", sa.String(length=12), nullable=False),
        _int("valid"),
        sa.PrimaryKeyConstraint(
            "unit_id", "month", "merchant_id", "kind", name=op.f("pk_insight_shop_month")
        ),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_shop_day_market", "insight_shop_day", ["market_id", "day"])
    op.create_index("ix_shop_day_merchant", "insight_shop_day", ["merchant_id", "day"])
    op.create_index("ix_unit_day_categories", "insight_unit_day", ["unit_id", "category", "day", "valid"])
    op.create_index("ix_stage_clock_running_due", "stage_clock", ["stopped_at", "due_at"])


def downgrade() -> None:
    """Drop the facts tables and the clock index."""
    op.drop_index("ix_stage_clock_running_due", table_name="stage_clock")
    for table in (
        "insight_shop_month",
        "insight_unit_month",
        "insight_unit_day",
        "insight_shop_day",
        "case_fact",
    ):
        op.drop_table(table)
