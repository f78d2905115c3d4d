"""The clocks a case runs: one row per stage clock, with the moment of its next card."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime


class StageClock(Base):
    """One clock of a case at one rung: when it started, its card moments, its next card."""

    __tablename__ = "stage_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    stage: Mapped[str] = mapped_column(String(24))
    rung: Mapped[str] = mapped_column(String(12))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reminder_at: Mapped[datetime] = mapped_column(UTCDateTime)
    urge_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The sweep's whole work list is a range scan of this index; NULL once stopped or done.
    next_card_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    next_card: Mapped[str | None] = mapped_column(String(12))
    # Order 121: testing and appraisal time does not count towards mediation's 60 days.
    paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    fallback_used: Mapped[bool] = mapped_column(Boolean, default=False)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_reason: Mapped[str | None] = mapped_column(String(24))

    __table_args__ = (
        # Admins are warned of running deadlines that a guessed calendar decided.
        Index("ix_stage_clock_fallback", "fallback_used", "stopped_at"),
    )
