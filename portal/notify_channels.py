"""Managing notification channels: add, switch on and off, retry, and report their health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from portal.models import Delivery, NotificationChannel
from portal.notify_send import CHANNEL_KINDS, InvalidTargetError, SendSettings, check_target, split_target


@dataclass(frozen=True)
class ChannelHealth:
    """A channel with what the station needs to see: failures and the queue behind it."""

    channel: NotificationChannel
    pending: int
    dead: int
    last_sent_at: datetime | None

    @property
    def failing(self) -> bool:
        """Say whether the last attempt on this channel failed."""
        return self.channel.active and self.channel.failing_since is not None


def add_channel(
    session: Session,
    *,
    kind: str,
    target: str,
    market_id: int | None,
    unit_id: int | None,
    settings: SendSettings,
    now: datetime,
) -> NotificationChannel:
    """Add an active channel for a market or a regulator unit; refuse a target we cannot use."""
    if kind not in CHANNEL_KINDS:
        raise InvalidTargetError(f"unknown channel kind {kind!r}")
    if (market_id is None) == (unit_id is None):
        raise ValueError("a channel belongs to exactly one market or one unit")
    check_target(kind, target.strip(), settings)
    channel = NotificationChannel(
        market_id=market_id,
        unit_id=unit_id,
        kind=kind,
        target=target.strip(),
        active=True,
        created_at=now,
    )
    session.add(channel)
    session.flush()
    return channel


def set_active(session: Session, channel: NotificationChannel, active: bool) -> None:
    """Switch a channel on or off; a switched-off channel's queue is dropped at the next pass."""
    channel.active = active
    if not active:
        channel.failing_since, channel.last_error = None, None
    session.flush()


def requeue_dead(session: Session, channel: NotificationChannel, now: datetime) -> int:
    """Give a channel's dead deliveries a fresh set of attempts (after the station fixed it)."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.channel_id == channel.id, Delivery.status == "dead")
        .values(status="pending", attempts=0, next_attempt_at=now, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return int(result.rowcount)  # type: ignore[attr-defined]


def channel_health(session: Session, where: ColumnElement[bool]) -> list[ChannelHealth]:
    """List the channels matching `where` with pending and dead counts and the last success."""
    channels = list(
        session.scalars(
            select(NotificationChannel)
            .where(where)
            .order_by(NotificationChannel.active.desc(), NotificationChannel.id)
        )
    )
    ids = [c.id for c in channels]
    counts: dict[tuple[int | None, str], int] = {}
    last_sent: dict[int | None, datetime | None] = {}
    if ids:
        rows = session.execute(
            select(Delivery.channel_id, Delivery.status, func.count(), func.max(Delivery.sent_at))
            .where(Delivery.channel_id.in_(ids))
            .group_by(Delivery.channel_id, Delivery.status)
        ).all()
        for channel_id, status, count, sent_at in rows:
            counts[(channel_id, status)] = count
            if status == "sent":
                last_sent[channel_id] = sent_at
    return [
        ChannelHealth(c, counts.get((c.id, "pending"), 0), counts.get((c.id, "dead"), 0), last_sent.get(c.id))
        for c in channels
    ]


def masked_target(channel: NotificationChannel) -> str:
    """Show where a channel points without its robot key or signing secret."""
    if channel.kind == "email":
        return channel.target
    url, secret = split_target(channel.target)
    # WeCom and DingTalk carry the key in the query, Feishu in the path: show neither.
    parts = urlsplit(url)
    shown = f"{parts.scheme}://{parts.netloc}/…{url[-4:]}"
    return _("%(address)s (+ signing secret)", address=shown) if secret else shown
