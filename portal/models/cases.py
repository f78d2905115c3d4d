"""Complaints and reports, their append-only timeline and their photos."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime


class CaseCounter(Base):
    """The last case number issued on one Shanghai calendar day."""

    __tablename__ = "case_counter"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Complaint(Base):
    """One submission: a complaint (wants mediation) or a report (points out a violation)."""

    __tablename__ = "complaint"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(20), unique=True)
    tracking_hash: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16), default="poster")
    kind: Mapped[str] = mapped_column(String(12))
    category: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(Text)
    amount_fen: Mapped[int | None] = mapped_column(Integer)
    wish: Mapped[str | None] = mapped_column(String(16))
    on_site: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(20))
    phone_last4: Mapped[str | None] = mapped_column(String(4))
    name: Mapped[str | None] = mapped_column(String(60))
    address: Mapped[str | None] = mapped_column(String(200))

    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchant.id"))
    market_id: Mapped[int | None] = mapped_column(ForeignKey("market.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("regulator_unit.id"))
    poster_code_id: Mapped[int | None] = mapped_column(ForeignKey("poster_code.id"))

    status: Mapped[str] = mapped_column(String(12), default="new")  # new|handling|closed
    rung: Mapped[str] = mapped_column(String(12), default="merchant")  # merchant|station|regulator
    stage: Mapped[str | None] = mapped_column(String(24))
    stage_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stage_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    outcome: Mapped[str | None] = mapped_column(String(16))
    recovered_fen: Mapped[int | None] = mapped_column(Integer)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(String(500))
    hidden_reason: Mapped[str | None] = mapped_column(String(300))
    linked_to_id: Mapped[int | None] = mapped_column(ForeignKey("complaint.id"))
    # The shopper's number sent at least the threshold of cases within one window around this
    # one (portal/repeat_flags.py): kept as cases arrive, so the board can filter on it.
    repeat_phone_flag: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    version: Mapped[int] = mapped_column(Integer, default=1)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    onsite_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The ladder (stage clocks): when the case last climbed a rung and why
    # (breach|manual|rejection), when it was returned as outside a unit's remit, when the
    # regulator asked for Order 121 identity and when it accepted the complaint.
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_cause: Mapped[str | None] = mapped_column(String(12))
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    identity_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    merchant = relationship("Merchant")
    market = relationship("Market")
    # The case a duplicate was merged into (portal/duplicates.py); None for every other case.
    linked_to: Mapped[Complaint | None] = relationship(remote_side=[id], viewonly=True)
    events: Mapped[list[Event]] = relationship(
        back_populates="complaint", order_by="Event.seq", viewonly=True
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="complaint", order_by="Attachment.id", viewonly=True
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("kind IN ('complaint', 'report')", name="kind"),
        CheckConstraint("status IN ('new', 'handling', 'closed')", name="status"),
        # Board queries: newest first within a tenant and a colour (keyset pagination). The
        # board's category and kind filters are read from the index too, not from table rows.
        Index("ix_complaint_merchant_board", "merchant_id", "status", "id", "category", "kind"),
        Index("ix_complaint_market_board", "market_id", "status", "id", "category", "kind"),
        Index("ix_complaint_unit_board", "unit_id", "status", "id", "category", "kind"),
        Index("ix_complaint_stage_due", "stage_due_at"),
        # Repeat-phone signal and the staff's phone search: one phone's cases by time.
        Index("ix_complaint_phone_created", "phone", "created_at"),
        # Possible duplicates: one phone's cases at one shop by time.
        Index("ix_complaint_phone_merchant", "phone", "merchant_id", "created_at"),
        # The duplicates linked into a case.
        Index("ix_complaint_linked_to", "linked_to_id"),
        Index("ix_complaint_created", "created_at"),
        # The board's repeat-phone filter: the board indexes again, over flagged cases only.
        *(
            Index(
                f"ix_complaint_{scope}_flagged",
                f"{scope}_id",
                "status",
                "id",
                "category",
                "kind",
                sqlite_where=text("repeat_phone_flag = 1"),
                postgresql_where=text("repeat_phone_flag"),
            )
            for scope in ("merchant", "market", "unit")
        ),
    )


class Event(Base):
    """One entry of a case's timeline; rows are only ever inserted."""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    actor_role: Mapped[str] = mapped_column(String(16))  # shopper|merchant|station|...|system
    body: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    complaint: Mapped[Complaint] = relationship(back_populates="events")

    __table_args__ = (UniqueConstraint("complaint_id", "seq", name="uq_event_case_seq"),)


class Attachment(Base):
    """A photo the shopper sent, re-encoded and stored under a server-made key."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    storage_key: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="ready")  # ready|pending|failed
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    complaint: Mapped[Complaint] = relationship(back_populates="attachments")
