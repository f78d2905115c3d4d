"""A batch of events (the clock sweep): staff and channels read at once, events kept per recipient."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from portal.models import Complaint, Merchant, NotificationChannel, User

# session.info key; notify's after-commit and after-rollback hooks drop it.
BATCH_KEY = "kuaisu.notify_batch"
# Who one delivery goes to: (channel kind, channel id, staff user id); "email" for a user.
RecipientKey = tuple[str, int | None, int | None]


@dataclass(frozen=True, slots=True)
class BatchEvent:
    """One notifiable event of the batch, kept until the batch's messages are written."""

    complaint: Complaint
    kind: str
    data: dict[str, Any] | None
    shop: str | None  # the shop's name, read with the batch


@dataclass
class Batch:
    """Who may hear of a batch of cases, read at once (the clock sweep's events)."""

    users: dict[int, User] = field(default_factory=dict)
    shop_staff: dict[int, list[User]] = field(default_factory=dict)
    market_channels: dict[int, list[NotificationChannel]] = field(default_factory=dict)
    unit_channels: dict[int, list[NotificationChannel]] = field(default_factory=dict)
    shop_names: dict[int, str] = field(default_factory=dict)
    # Each recipient's events in the order they were issued (notify_digest writes them).
    events: dict[RecipientKey, list[BatchEvent]] = field(default_factory=dict)
    recipients: dict[tuple[Any, ...], list[RecipientKey]] = field(default_factory=dict)
    now: datetime | None = None

    def add(self, event: BatchEvent, recipients: Sequence[RecipientKey], now: datetime) -> None:
        """Keep an event for each of its recipients."""
        self.now = now
        for recipient in recipients:
            self.events.setdefault(recipient, []).append(event)


def prefetch(session: Session, complaints: Sequence[Complaint]) -> None:
    """Read the staff, channels and shop names of many cases at once, for the events that follow.

    The clock sweep calls this per batch (cards.ChainWriter.prefetch), so thousands of
    reminder and urge events cost no query each; the cache ends with the transaction.
    """
    batch = Batch()
    shops = {c.merchant_id for c in complaints if c.merchant_id is not None}
    names = session.execute(select(Merchant.id, Merchant.name).where(Merchant.id.in_(shops)))
    batch.shop_names = {shop: name for shop, name in names}
    assignees = {c.assignee_id for c in complaints if c.assignee_id is not None}
    for user in session.scalars(
        select(User)
        .where(
            User.active.is_(True),
            User.email.is_not(None),
            User.email != "",
            or_(and_(User.role == "merchant", User.merchant_id.in_(shops)), User.id.in_(assignees)),
        )
        .order_by(User.id)
    ):
        batch.users[user.id] = user
        if user.role == "merchant" and user.merchant_id in shops:
            batch.shop_staff.setdefault(user.merchant_id, []).append(user)
    markets = {c.market_id for c in complaints if c.market_id is not None}
    units = {c.unit_id for c in complaints}
    for channel in session.scalars(
        select(NotificationChannel)
        .where(
            NotificationChannel.active.is_(True),
            or_(NotificationChannel.market_id.in_(markets), NotificationChannel.unit_id.in_(units)),
        )
        .order_by(NotificationChannel.id)
    ):
        if channel.market_id is not None:
            batch.market_channels.setdefault(channel.market_id, []).append(channel)
        if channel.unit_id is not None:
            batch.unit_channels.setdefault(channel.unit_id, []).append(channel)
    session.info[BATCH_KEY] = batch


def delivery_row(
    subject: str, body: str, recipient: RecipientKey, now: datetime, complaint_id: int | None
) -> dict[str, Any]:
    """Return the values of one pending delivery, due at once."""
    _kind, channel_id, user_id = recipient
    return {
        "channel_id": channel_id,
        "user_id": user_id,
        "complaint_id": complaint_id,
        "subject": subject,
        "body": body,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
