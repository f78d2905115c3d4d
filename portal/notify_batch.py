"""A batch of events (the clock sweep): staff and channels read at once, deliveries written at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.orm import Session

from portal import bulk
from portal.models import Complaint, Delivery, NotificationChannel, User

# session.info key; notify's after-commit and after-rollback hooks drop it.
BATCH_KEY = "kuaisu.notify_batch"


@dataclass
class Batch:
    """Who may hear of a batch of cases, read at once (the clock sweep's events)."""

    users: dict[int, User] = field(default_factory=dict)
    shop_staff: dict[int, list[User]] = field(default_factory=dict)
    market_channels: dict[int, list[NotificationChannel]] = field(default_factory=dict)
    unit_channels: dict[int, list[NotificationChannel]] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)  # rows for write_batch


def prefetch(session: Session, complaints: Sequence[Complaint]) -> None:
    """Read the staff and channels of many cases in two queries, for the events that follow.

    The clock sweep calls this per batch (cards.ChainWriter.prefetch), so thousands of
    reminder and urge events cost no query each; the cache ends with the transaction.
    """
    batch = Batch()
    shops = {c.merchant_id for c in complaints if c.merchant_id is not None}
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


def write_batch(session: Session) -> None:
    """Insert the deliveries the batch's events called for, in one statement."""
    batch: Batch | None = session.info.get(BATCH_KEY)
    if batch is not None and batch.deliveries:
        bulk.insert_rows(session, cast(Table, Delivery.__table__), batch.deliveries)
        batch.deliveries = []
