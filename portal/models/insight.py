"""Insight's own tables: the audit log, integrators' API keys, sent weekly summaries."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime
from portal.models.cases import Complaint, Event


class AuditLog(Base):
    """One staff action that is not a change to a case (an export, a key issued); insert-only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(32))  # export|apikey_created|apikey_revoked
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    actor_role: Mapped[str] = mapped_column(String(16))
    # What was done, never to whom: filters, format, row count; no phone, no name (PIPL).
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ApiKey(Base):
    """An integrator's Open311 key; only a hash is kept, the key is shown once."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    # The first characters identify the row; the SHA-256 of the whole key proves it.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WeeklySummary(Base):
    """The weekly summary sent to one unit for one ISO week; the unique key makes it once."""

    __tablename__ = "weekly_summary"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("regulator_unit.id"))
    week_start: Mapped[date] = mapped_column(Date)
    channels: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("unit_id", "week_start", name="uq_weekly_summary_unit_week"),)


# A regulator's dashboard walks its units' cases by creation time and reads only these
# columns: the index covers them, so a month of a district is read without the table.
Index(
    "ix_complaint_insight",
    *(
        getattr(Complaint, name)
        for name in (
            "unit_id",
            "created_at",
            "category",
            "kind",
            "status",
            "hidden_at",
            "stage_due_at",
            "first_response_at",
            "on_site",
            "onsite_at",
            "feedback_at",
            "outcome",
            "satisfaction",
            "recovered_fen",
            "market_id",
            "merchant_id",
            # PostgreSQL's index-only scans need the key the joins use; SQLite has it anyway.
            "id",
        )
    ),
)
Index("ix_complaint_market_created", Complaint.market_id, Complaint.created_at)
Index("ix_complaint_merchant_created", Complaint.merchant_id, Complaint.created_at)
# "Was this case escalated?" is one index probe per case.
Index("ix_event_case_kind", Event.complaint_id, Event.kind)
