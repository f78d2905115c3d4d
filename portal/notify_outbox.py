"""The sending pass: claim due deliveries, send each once per claim, back off, give up.

Semantics are at-least-once. A delivery is claimed by one conditional UPDATE (checked by
rowcount, so two workers or hosts never both win), sent once under that claim, then marked.
A process that dies between the platform accepting a message and the mark leaves the claim
to expire; the delivery is then sent again. Nothing is ever dropped silently: after
`max_attempts` failures it is marked dead and its channel shows as failing to the station.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from portal.db import new_session
from portal.models import Delivery, NotificationChannel, User
from portal.notify_send import SendError, SendSettings, send_message

log = logging.getLogger("kuaisu.notify")
BACKOFF_CAP = timedelta(hours=6)
CLAIM_MARGIN = 5.0  # seconds kept in hand between the last send and the claim's expiry


@dataclass(frozen=True)
class RetryPolicy:
    """How long a claim lasts, how retries back off, when a delivery is dead."""

    max_attempts: int = 8
    backoff_base: timedelta = timedelta(minutes=1)
    claim: timedelta = timedelta(seconds=60)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RetryPolicy:
        """Read NOTIFY_MAX_ATTEMPTS and NOTIFY_BACKOFF_SECONDS (1, 2, 4 … minutes by default)."""
        return cls(
            max_attempts=int(config.get("NOTIFY_MAX_ATTEMPTS") or 8),
            backoff_base=timedelta(seconds=int(config.get("NOTIFY_BACKOFF_SECONDS") or 60)),
        )

    def retry_delay(self, attempts: int) -> timedelta:
        """Return the wait after the n-th failed attempt: base·2^(n-1), capped, no jitter."""
        return min(self.backoff_base * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


@dataclass(frozen=True)
class Parcel:
    """What one claimed delivery needs to go out, read before any network call."""

    delivery_id: int
    channel_id: int | None
    kind: str
    target: str
    subject: str
    body: str
    refusal: str | None  # why it cannot be sent at all (channel off, no address)


@dataclass
class PassResult:
    """What one sending pass did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def claim_due(session: Session, now: datetime, limit: int, policy: RetryPolicy) -> list[int]:
    """Claim up to `limit` due deliveries for this worker; the caller commits."""
    free = or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now)
    due = (Delivery.status == "pending") & (Delivery.next_attempt_at <= now) & free
    candidates = session.scalars(
        select(Delivery.id).where(due).order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)
    ).all()
    claimed = []
    for delivery_id in candidates:
        # The condition is re-checked by the UPDATE itself: only one claimant sees rowcount 1.
        result = session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, due)
            .values(claimed_until=now + policy.claim)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(delivery_id)
    return claimed


def load_parcels(session: Session, ids: list[int]) -> list[Parcel]:
    """Read the claimed deliveries with their channel or staff address."""
    parcels = []
    for delivery in session.scalars(select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id)):
        kind, target, refusal = "email", "", None
        if delivery.channel_id is not None:
            channel = session.get(NotificationChannel, delivery.channel_id)
            assert channel is not None
            kind, target = channel.kind, channel.target
            refusal = None if channel.active else "channel switched off"
        else:
            user = session.get(User, delivery.user_id)
            target = (user.email or "") if user else ""
            refusal = None if user and user.active and target else "no active staff email"
        parcels.append(
            Parcel(delivery.id, delivery.channel_id, kind, target, delivery.subject, delivery.body, refusal)
        )
    return parcels


def record_outcome(
    session: Session,
    delivery_id: int,
    error: str | None,
    now: datetime,
    policy: RetryPolicy,
    *,
    final: bool = False,
) -> str:
    """Mark a delivery sent, due again after its backoff, or dead; update its channel's health."""
    delivery = session.get(Delivery, delivery_id)
    assert delivery is not None
    delivery.claimed_until = None
    delivery.attempts += 1
    if error is None:
        delivery.status, delivery.sent_at, delivery.last_error = "sent", now, None
    else:
        delivery.last_error = error[:400]
        if final or delivery.attempts >= policy.max_attempts:
            delivery.status = "dead"
        else:
            delivery.next_attempt_at = now + policy.retry_delay(delivery.attempts)
    channel = session.get(NotificationChannel, delivery.channel_id) if delivery.channel_id else None
    if channel is not None and not final:
        mark_channel_health(channel, error, now)
    session.flush()
    return "sent" if error is None else ("dead" if delivery.status == "dead" else "retrying")


def mark_channel_health(channel: NotificationChannel, error: str | None, now: datetime) -> None:
    """Remember when a channel started failing and why; a success clears it."""
    if error is None:
        channel.failing_since, channel.last_error = None, None
        return
    channel.failing_since = channel.failing_since or now
    channel.last_error = error[:400]


def send_pass(settings: SendSettings, policy: RetryPolicy, now: datetime, limit: int = 50) -> PassResult:
    """Run one pass in the current app: claim, send outside any transaction, record each result."""
    result = PassResult()
    with new_session(write=True) as session:
        ids = claim_due(session, now, limit, policy)
        parcels = load_parcels(session, ids)
        session.commit()
    result.claimed = len(parcels)
    # Stop while our claims still hold, so no other sender can have taken the rest meanwhile.
    deadline = time.monotonic() + policy.claim.total_seconds() - settings.total_timeout - CLAIM_MARGIN
    down: dict[int, str] = {}  # channels that failed in this pass: their other messages wait too
    for index, parcel in enumerate(parcels):
        if time.monotonic() > deadline:
            release([p.delivery_id for p in parcels[index:]])
            break
        error = parcel.refusal or down.get(parcel.channel_id or 0)
        if error is None:
            try:
                send_message(parcel.kind, parcel.target, parcel.subject, parcel.body, settings, now)
            except SendError as exc:
                error = str(exc)
                if parcel.channel_id is not None:
                    down[parcel.channel_id] = error
        # One short write per delivery: a crash later leaves the rest to their claim's expiry.
        with new_session(write=True) as session:
            final = parcel.refusal is not None
            state = record_outcome(session, parcel.delivery_id, error, now, policy, final=final)
            session.commit()
        setattr(result, state, getattr(result, state) + 1)
        if error:
            result.errors.append(f"delivery {parcel.delivery_id}: {error}")
            log.warning("notification delivery %s %s: %s", parcel.delivery_id, state, error)
    return result


def release(ids: list[int]) -> None:
    """Give claimed but unsent deliveries back at once, without counting an attempt."""
    with new_session(write=True) as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.status == "pending")
            .values(claimed_until=None)
            .execution_options(synchronize_session=False)
        )
        session.commit()
