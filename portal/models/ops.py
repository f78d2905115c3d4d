"""The machinery around cases: clock cards, notifications, calendar data, poster jobs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime


class StageCard(Base):
    """A reminder, urge or breach issued once per (case, stage, started, kind)."""

    __tablename__ = "stage_card"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The unique key is what makes a sweep exactly-once, however often it runs.
    card_key: Mapped[str] = mapped_column(String(120), unique=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    stage: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(12))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(Boolean, default=False)


class NotificationChannel(Base):
    """Where a market's or unit's staff hear of events: SMTP email or a group robot."""

    __tablename__ = "notification_channel"

    id: Mapped[int] = mapped_column(primary_key=True)
    market_id: Mapped[int | None] = mapped_column(ForeignKey("market.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("regulator_unit.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # email|wecom|dingtalk|feishu
    target: Mapped[str] = mapped_column(String(400))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Delivery(Base):
    """One message to one channel or one staff member's email, claimed and retried with backoff."""

    __tablename__ = "delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("notification_channel.id"))
    # A staff member's own email; the address is read at send time, so it is never copied here.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaint.id"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|sent|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_delivery_due", "status", "next_attempt_at"),
        Index("ix_delivery_channel_status", "channel_id", "status"),
        CheckConstraint("(channel_id IS NULL) <> (user_id IS NULL)", name="one_recipient"),
    )


class CalendarDay(Base):
    """An official holiday or make-up working day loaded by an admin; beats the package."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_working: Mapped[bool] = mapped_column(Boolean)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    loaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))


class PosterJob(Base):
    """A bulk poster run done in the background, with progress and its result file."""

    __tablename__ = "poster_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    scope: Mapped[dict[str, Any]] = mapped_column(JSON)
    layout: Mapped[str] = mapped_column(String(4))
    fmt: Mapped[str] = mapped_column(String(4))  # pdf|zip
    status: Mapped[str] = mapped_column(String(12), default="queued")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(400))
    result_path: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
